// Timeline view: one bar per call over wall-clock time (pale while waiting to start, solid while running).
// Python sends each bar's position and tooltip and the axis' ticks, already computed (and re-sends them while calls
// are unfinished, so that their bars grow); this view only places them.

function render({ model, el }) {
  const header = h("div", { class: "ma-header" });
  const info = h("div", { class: "ma-info ma-muted" }, "Hover or click a bar to identify the call.");
  const axis = h("div", { class: "ma-axis" });
  const rowsBox = h("div", { class: "ma-rows" });
  el.append(h("div", { class: "ma-view ma-timeline" }, header, info, h("div", { class: "ma-axis-row" }, h("div", { class: "ma-label" }), axis), rowsBox));

  function draw() {
    const timeline = model.get("timeline") || {};
    const bars = timeline.bars || [];
    const selected = model.get("selected");
    fill(
      header,
      `Timeline: ${timeline.calls_text || ""} `,
      ...countsLine(timeline.count_labels),
      usageBadge(timeline.usage_text, timeline.usage_title),
      ...evictionNote(timeline.evicted_note),
    );
    fill(axis, ...(timeline.ticks || []).map((tick) => h("span", { class: "ma-tick", style: { left: tick.left } }, tick.label)));
    const elements = bars.map((bar) =>
      h(
        "div",
        {
          class: `ma-timeline-row${bar.id === selected ? " ma-selected" : ""}`,
          onmouseenter: () => { info.textContent = bar.title; },
          onclick: () => {
            model.set("selected", model.get("selected") === bar.id ? null : bar.id);
            model.save_changes();
          },
        },
        h(
          "div",
          { class: "ma-label", style: { paddingLeft: `${bar.depth * 12}px` }, title: bar.title },
          statusBadge(bar.status, bar.icon),
          " ",
          callLabel(bar.alias, bar.kwargs),
        ),
        h(
          "div",
          { class: "ma-track", title: bar.title },
          h("div", { class: `ma-bar ma-bar-waiting ma-fill-${bar.status}`, style: bar.segments.waiting }),
          h("div", { class: `ma-bar ma-fill-${bar.status}`, style: bar.segments.running }),
          bar.segments.queued ? h("div", { class: "ma-bar ma-bar-queued", style: bar.segments.queued }) : null,
        ),
      ),
    );
    if (timeline.hidden) {
      const showMore = () => {
        model.set("expansions", (model.get("expansions") || 0) + 1);
        model.save_changes();
      };
      elements.push(h("div", { class: "ma-row ma-more", onclick: showMore }, `… ${timeline.hidden} more calls not shown (click for more)`));
    }
    if (!bars.length) elements.push(h("div", { class: "ma-muted" }, "(no agent calls yet)"));
    fill(rowsBox, ...elements);
    const chosen = bars.find((bar) => bar.id === selected);
    if (chosen) info.textContent = chosen.title;
  }

  model.on("change:timeline", draw);
  model.on("change:selected", draw);
  draw();
}

export default { render };
