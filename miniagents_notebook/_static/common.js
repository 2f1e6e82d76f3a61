// Helpers shared by the MiniAgents views; prepended to each view's module (anywidget loads one module per view).
// The views only render: Python sends every text already formatted (durations, status marks, ticks, bar positions,
// tooltips; see miniagents_notebook/_view_format.py) and the colours as CSS variables (_style.py).

function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "style" && typeof value === "object") Object.assign(element.style, value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...nodes(children));
  return element;
}

// children as DOM nodes: nested arrays flattened, null / undefined / false left out, anything else as its text
function nodes(children) {
  return children
    .flat(Infinity)
    .filter((child) => child !== null && child !== undefined && child !== false)
    .map((child) => (child instanceof Node ? child : String(child)));
}

// replace an element's content; takes the same children as `h` (never call `replaceChildren` with them directly:
// the DOM would show an array as "[object HTMLDivElement]" and a missing part as "null")
function fill(element, ...children) {
  element.replaceChildren(...nodes(children));
}

function statusBadge(status, icon) {
  return h("span", { class: `ma-status ma-status-${status}`, title: status }, icon);
}

function callLabel(alias, kwargs) {
  return [h("span", { class: "ma-alias" }, alias), kwargs ? h("span", { class: "ma-muted" }, ` (${kwargs})`) : null];
}

// one label per status that has calls, mark and count included ("9 done")
function countsLine(labels) {
  return (labels || []).map((label) => h("span", { class: `ma-count ma-status-${label.status}` }, label.text));
}

// "1,234 tokens · $0.0012": tokens and cost of LLM replies (a call's with its sub-calls, or a run's); "" shows nothing
function usageBadge(text, title) {
  return text ? h("span", { class: "ma-usage", title: title || "" }, text) : null;
}

// "Usage with its sub-calls: 1,234 tokens (…) · $0.0012 · 3 LLM replies", one line each, for a details panel
function usageLines(lines) {
  return (lines || []).map(([label, text]) => h("div", { class: "ma-usage-line" }, h("span", { class: "ma-muted" }, `${label}: `), text));
}

// "… 1,234 older calls evicted (limit 10,000)" when the Python side dropped old calls to bound its memory
function evictionNote(note) {
  return note ? [h("div", { class: "ma-muted ma-evicted" }, note)] : [];
}

function messageBox(message) {
  return h(
    "div",
    { class: `ma-message${message.error ? " ma-message-error" : ""}` },
    h("span", { class: "ma-muted ma-index" }, `#${message.index}`),
    h("span", { class: "ma-message-text" }, message.text, message.streaming ? h("span", { class: "ma-caret" }, "▍") : null),
    message.error ? h("div", { class: "ma-error" }, message.error) : null,
  );
}
