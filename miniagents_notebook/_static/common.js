// Helpers shared by the MiniAgents views; prepended to each view's module (anywidget loads one module per view).

const STATUS_ICONS = { waiting: "○", running: "◔", done: "✓", error: "✗" };

function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "style" && typeof value === "object") Object.assign(element.style, value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.floor(seconds - minutes * 60)} s`;
}

function statusBadge(status) {
  return h("span", { class: `ma-status ma-status-${status}`, title: status }, STATUS_ICONS[status] || "?");
}

function callLabel(alias, kwargs) {
  return [h("span", { class: "ma-alias" }, alias), kwargs ? h("span", { class: "ma-muted" }, ` (${kwargs})`) : null];
}

function countsLine(counts) {
  return Object.entries(counts || {})
    .filter(([, count]) => count > 0)
    .map(([status, count]) => h("span", { class: `ma-count ma-status-${status}` }, `${STATUS_ICONS[status]} ${count} ${status}`));
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
