// History inspector view: filters (agent, text) and the selected call go to Python; the list and the resolved
// records of the selected call come back. Links move to the call that made a call, or to the calls it made.

function render({ model, el }) {
  const agentSelect = h("select", { class: "ma-input" });
  const textInput = h("input", { class: "ma-input", type: "search", placeholder: "Filter by text…" });
  const header = h("div", { class: "ma-header" });
  const listBox = h("div", { class: "ma-rows ma-call-list" });
  const detailsBox = h("div", { class: "ma-details" });
  el.append(
    h(
      "div",
      { class: "ma-view ma-inspector" },
      header,
      h("div", { class: "ma-filters" }, agentSelect, textInput),
      h("div", { class: "ma-split" }, listBox, detailsBox),
    ),
  );

  let typingTimer = null;
  agentSelect.addEventListener("change", () => {
    model.set("agent_filter", agentSelect.value);
    model.save_changes();
  });
  textInput.addEventListener("input", () => {
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => {
      model.set("text_filter", textInput.value);
      model.save_changes();
    }, 250);
  });

  function select(id) {
    model.set("selected", id);
    model.save_changes();
  }

  function callLink(call) {
    return h("a", { class: "ma-link", onclick: () => select(call.id) }, callLabel(call.alias, call.kwargs));
  }

  function drawFilters() {
    const current = model.get("agent_filter");
    fill(
      agentSelect,
      h("option", { value: "" }, "All agents"),
      ...(model.get("agents") || []).map((alias) => h("option", { value: alias, selected: alias === current }, alias)),
    );
    if (textInput.value !== model.get("text_filter") && document.activeElement !== textInput) textInput.value = model.get("text_filter");
  }

  function drawList() {
    const calls = model.get("calls") || [];
    const selected = model.get("selected");
    const total = model.get("total");
    const matching = model.get("matching");
    fill(header, model.get("header"), ...evictionNote(model.get("evicted_note")));
    const rows = calls.map((call) =>
      h(
        "div",
        { class: `ma-row${call.id === selected ? " ma-selected" : ""}`, onclick: () => select(call.id), title: call.error || "" },
        usageBadge(call.usage_text, call.usage_title), // first: it floats to the row's right end, never cut off
        call.status ? [statusBadge(call.status, call.icon), " "] : null,
        callLabel(call.alias, call.kwargs),
        h("span", { class: "ma-muted ma-counts" }, ` ↓${call.inputs} ↑${call.replies}`),
        call.preview ? h("span", { class: "ma-muted ma-preview" }, ` — ${call.preview}`) : null,
      ),
    );
    if (matching > calls.length) rows.push(h("div", { class: "ma-muted" }, `… ${matching - calls.length} more (refine the filter)`));
    if (!calls.length) rows.push(h("div", { class: "ma-muted" }, total ? "No call matches the filter." : "(no recorded calls yet)"));
    fill(listBox, ...rows);
  }

  function messageNode(node) {
    const key = h("code", { class: "ma-hash", title: node.hash_key }, (node.hash_key || "").slice(0, 12));
    if (node.reference) return h("div", { class: "ma-muted" }, key, " → the call record above");
    if (node.missing) return h("div", {}, key, h("span", { class: "ma-muted" }, " (not in this history)"));
    if (node.unresolved) return h("div", {}, h("span", { class: "ma-muted" }, node.class || ""), " ", key, h("span", { class: "ma-muted" }, " (nested deeper)"));
    return h(
      "div",
      { class: "ma-record" },
      h("div", {}, h("span", { class: "ma-muted" }, node.class || ""), " ", key),
      node.content !== null && node.content !== undefined ? h("div", { class: "ma-message-text" }, node.content) : null,
      (node.fields || []).map(([name, value]) => h("div", { class: "ma-field" }, h("span", { class: "ma-muted" }, `${name}: `), value)),
      (node.nested || []).map((nested) =>
        h(
          "details",
          { open: nested.messages.length <= 3 },
          h("summary", { class: "ma-muted" }, `${nested.field} (${nested.messages.length})`),
          nested.messages.map(messageNode),
        ),
      ),
    );
  }

  function drawDetails() {
    const details = model.get("details") || {};
    detailsBox.classList.toggle("ma-details-empty", details.id === undefined);
    if (details.id === undefined) {
      fill(detailsBox, h("div", { class: "ma-muted" }, "Select a call to see its records."));
      return;
    }
    fill(
      detailsBox,
      h(
        "div",
        { class: "ma-details-title" },
        details.summary.status ? [statusBadge(details.summary.status, details.summary.icon), " "] : null,
        callLabel(details.alias, details.summary.kwargs),
      ),
      details.summary.error ? h("div", { class: "ma-error" }, details.summary.error) : null,
      usageLines(details.usage),
      details.parent ? h("div", {}, "Called by: ", callLink(details.parent)) : h("div", { class: "ma-muted" }, "Called from outside any agent"),
      details.sub_calls.length
        ? h("div", {}, `Sub-calls (${details.sub_calls.length}): `, details.sub_calls.map((call, position) => [position ? ", " : "", callLink(call)]))
        : null,
      h("div", { class: "ma-section" }, "Call record"),
      messageNode(details.call_record),
      h("div", { class: "ma-section" }, "Reply record"),
      messageNode(details.reply_record),
    );
  }

  model.on("change:agents", drawFilters);
  model.on("change:agent_filter", drawFilters);
  model.on("change:text_filter", drawFilters);
  model.on("change:calls", drawList);
  model.on("change:total", drawList);
  model.on("change:header", drawList);
  model.on("change:evicted_note", drawList);
  model.on("change:selected", drawList);
  model.on("change:details", drawDetails);
  drawFilters();
  drawList();
  drawDetails();
  return () => clearTimeout(typingTimer);
}

export default { render };
