// Timeline view: one bar per call over wall-clock time (pale while waiting to start, solid while running).
// Times come from Python relative to the first call; bars of unfinished calls grow with a local clock.

function render({ model, el }) {
  let receivedAt = performance.now();
  const header = h("div", { class: "ma-header" });
  const info = h("div", { class: "ma-info ma-muted" }, "Hover or click a bar to identify the call.");
  const axis = h("div", { class: "ma-axis" });
  const rowsBox = h("div", { class: "ma-rows" });
  el.append(h("div", { class: "ma-view ma-timeline" }, header, info, h("div", { class: "ma-axis-row" }, h("div", { class: "ma-label" }), axis), rowsBox));
  let bars = [];

  function describe(bar, end) {
    const kwargs = bar.kwargs ? `(${bar.kwargs})` : "";
    const waited = bar.run !== null ? ` · waited ${formatSeconds(bar.run - bar.start)}` : "";
    const error = bar.error ? ` · ${bar.error}` : "";
    return `${bar.alias}${kwargs} · ${bar.status} · ${formatSeconds(bar.start)} → ${formatSeconds(end)} (${formatSeconds(end - bar.start)})${waited}${error}`;
  }

  function currentTimes() {
    const timeline = model.get("timeline") || {};
    const now = (timeline.now || 0) + (performance.now() - receivedAt) / 1000;
    const unfinished = (timeline.bars || []).some((bar) => bar.end === null);
    return { now, span: Math.max(unfinished ? now : timeline.span || 0, 1e-6) };
  }

  function place() {
    const { now, span } = currentTimes();
    const percent = (value) => `${(100 * value) / span}%`;
    for (const bar of bars) {
      const end = bar.data.end !== null ? bar.data.end : now;
      const run = bar.data.run !== null ? bar.data.run : end;
      Object.assign(bar.waiting.style, { left: percent(bar.data.start), width: percent(run - bar.data.start) });
      Object.assign(bar.running.style, { left: percent(run), width: `max(2px, ${percent(end - run)})` });
      bar.track.title = describe(bar.data, end);
    }
    const step = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600].find((s) => span / s <= 8) || span / 8;
    const ticks = [];
    // no tick right at the edge: its label would be clipped
    for (let tick = 0; tick <= span * 0.92 + 1e-9; tick += step) {
      ticks.push(h("span", { class: "ma-tick", style: { left: percent(tick) } }, formatSeconds(tick)));
    }
    axis.replaceChildren(...ticks);
  }

  function draw() {
    const timeline = model.get("timeline") || {};
    const selected = model.get("selected");
    header.replaceChildren(`Timeline: ${(timeline.bars || []).length} calls `, ...countsLine(timeline.counts), ...evictionNote(timeline.evicted_note));
    bars = (timeline.bars || []).map((data) => {
      const waiting = h("div", { class: `ma-bar ma-bar-waiting ma-fill-${data.status}` });
      const running = h("div", { class: `ma-bar ma-fill-${data.status}` });
      const track = h("div", { class: "ma-track" }, waiting, running);
      const row = h(
        "div",
        {
          class: `ma-timeline-row${data.id === selected ? " ma-selected" : ""}`,
          onmouseenter: () => { info.textContent = track.title; },
          onclick: () => {
            model.set("selected", model.get("selected") === data.id ? null : data.id);
            model.save_changes();
          },
        },
        h("div", { class: "ma-label", style: { paddingLeft: `${data.depth * 12}px` } }, statusBadge(data.status), " ", data.alias),
        track,
      );
      return { data, waiting, running, track, row };
    });
    const elements = bars.map((bar) => bar.row);
    if (timeline.hidden) elements.push(h("div", { class: "ma-muted" }, `… ${timeline.hidden} more calls not shown`));
    if (!bars.length) elements.push(h("div", { class: "ma-muted" }, "(no agent calls yet)"));
    rowsBox.replaceChildren(...elements);
    const chosen = bars.find((bar) => bar.data.id === selected);
    place();
    if (chosen) info.textContent = chosen.track.title;
  }

  model.on("change:timeline", () => {
    receivedAt = performance.now();
    draw();
  });
  model.on("change:selected", draw);
  const timer = setInterval(() => {
    if (bars.some((bar) => bar.data.end === null)) place();
  }, 200);
  draw();
  return () => clearInterval(timer);
}

export default { render };
