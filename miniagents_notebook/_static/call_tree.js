// Call tree view: rows come from Python already ordered, limited and formatted (durations of unfinished calls grow as
// Python re-sends them); this view only draws them, folds subtrees locally, asks for more children ("… N more")
// through `child_limits`, and selects a call through `selected`.

function render({ model, el }) {
  const folded = new Set();
  const header = h("div", { class: "ma-header" });
  const rowsBox = h("div", { class: "ma-rows" });
  const detailsBox = h("div", { class: "ma-details" });
  el.append(h("div", { class: "ma-view ma-call-tree" }, header, h("div", { class: "ma-split" }, rowsBox, detailsBox)));

  function select(id) {
    model.set("selected", model.get("selected") === id ? null : id);
    model.save_changes();
  }

  // beyond the tree's row cap (parent null) more rows in all, else more children of one parent
  function showMore(parent, shown) {
    if (parent === null) {
      model.set("row_expansions", (model.get("row_expansions") || 0) + 1);
      model.save_changes();
      return;
    }
    const limits = { ...model.get("child_limits") };
    limits[String(parent)] = shown + 200;
    model.set("child_limits", limits);
    model.save_changes();
  }

  function drawRows() {
    const tree = model.get("tree") || {};
    const rows = tree.rows || [];
    const selected = model.get("selected");
    fill(
      header,
      `Agent calls: ${tree.total || 0} `,
      ...countsLine(tree.count_labels),
      usageBadge(tree.usage_text, tree.usage_title),
      ...evictionNote(tree.evicted_note),
    );
    const elements = [];
    let hiddenBelow = null; // depth under which rows are folded away
    for (const row of rows) {
      if (hiddenBelow !== null && row.depth > hiddenBelow) continue;
      hiddenBelow = null;
      const indent = { paddingLeft: `${row.depth * 18}px` };
      if (row.id === undefined) {
        elements.push(
          h(
            "div",
            { class: "ma-row ma-more", style: indent, onclick: () => showMore(row.parent, row.shown) },
            `… ${row.more} more`,
          ),
        );
        continue;
      }
      const isFolded = folded.has(row.id);
      if (isFolded) hiddenBelow = row.depth;
      const toggle = row.children
        ? h("span", {
            class: "ma-toggle",
            onclick: (event) => {
              event.stopPropagation();
              isFolded ? folded.delete(row.id) : folded.add(row.id);
              drawRows();
            },
          }, isFolded ? "▸" : "▾")
        : h("span", { class: "ma-toggle" }, "");
      elements.push(
        h(
          "div",
          { class: `ma-row${row.id === selected ? " ma-selected" : ""}`, style: indent, onclick: () => select(row.id), title: row.error || "" },
          usageBadge(row.usage_text, row.usage_title), // first: it floats to the row's right end, never cut off
          toggle,
          statusBadge(row.status, row.icon),
          " ",
          callLabel(row.alias, row.kwargs),
          h("span", { class: "ma-muted ma-counts", title: "input messages ↓, reply messages ↑" }, ` ↓${row.inputs} ↑${row.replies}`),
          h("span", { class: "ma-duration" }, ` ${row.elapsed_text}`),
          row.preview ? h("span", { class: "ma-muted ma-preview" }, ` — ${row.preview}`) : null,
          isFolded ? h("span", { class: "ma-muted" }, ` (${row.children} sub-calls folded)`) : null,
        ),
      );
      if (row.error) elements.push(h("div", { class: "ma-row ma-error", style: { paddingLeft: `${row.depth * 18 + 36}px` } }, row.error));
    }
    if (rows.length === 0) elements.push(h("div", { class: "ma-muted" }, "(no agent calls yet)"));
    fill(rowsBox, ...elements);
  }

  function drawDetails() {
    const details = model.get("details") || {};
    detailsBox.classList.toggle("ma-details-empty", details.id === undefined);
    if (details.id === undefined) {
      fill(detailsBox, h("div", { class: "ma-muted" }, "Select a call to see its messages."));
      return;
    }
    fill(
      detailsBox,
      h("div", { class: "ma-details-title" }, statusBadge(details.status, details.icon), " ", callLabel(details.alias, details.kwargs_text)),
      h(
        "div",
        { class: "ma-muted" },
        `${details.status} · ${details.elapsed_text}`,
        details.waited_text ? ` (waited ${details.waited_text} before starting)` : "",
      ),
      usageLines(details.usage),
      details.parent
        ? h("div", {}, "Called by: ", h("a", { class: "ma-link", onclick: () => select(details.parent.id) }, details.parent.alias))
        : null,
      details.children && details.children.length
        ? h(
            "div",
            {},
            `Sub-calls (${details.children.length + (details.hidden_children || 0)}): `,
            details.children.map((child, position) => [
              position ? ", " : "",
              h("a", { class: "ma-link", onclick: () => select(child.id) }, statusBadge(child.status, child.icon), " ", child.alias),
            ]),
          )
        : null,
      details.error ? h("div", { class: "ma-section" }, "Error") : null,
      details.error ? h("div", { class: "ma-error" }, details.error) : null,
      details.traceback ? h("pre", { class: "ma-traceback" }, details.traceback) : null,
      h("div", { class: "ma-section" }, `Input messages (${details.inputs.length})`),
      details.inputs.map(messageBox),
      h("div", { class: "ma-section" }, `Replies (${details.replies.length})`),
      details.replies.map(messageBox),
    );
  }

  model.on("change:tree", drawRows);
  model.on("change:selected", drawRows);
  model.on("change:details", drawDetails);
  drawRows();
  drawDetails();
}

export default { render };
