// Copy buttons: <button data-copy-from="id of the field or element to copy">. A script file rather
// than an onclick attribute, so that the Content Security Policy can refuse every inline script.
// The button says "Copied" (or why it could not) for a few seconds, then what it said before; a
// live region says the same to screen readers, which may not read a button's new text.
(() => {
  const SAID_FOR_MS = 3000;
  const status = document.createElement("div");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  status.dataset.copyStatus = "";
  document.body.append(status);

  const say = (button, words) => {
    if (!("copyLabel" in button.dataset)) {
      button.dataset.copyLabel = button.innerHTML;
    }
    button.textContent = words;
    status.textContent = words;
    clearTimeout(button.copyTimer);
    button.copyTimer = setTimeout(() => {
      button.innerHTML = button.dataset.copyLabel;
      delete button.dataset.copyLabel;
      status.textContent = "";
    }, SAID_FOR_MS);
  };

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy-from]");
    if (!button) {
      return;
    }
    const source = document.getElementById(button.dataset.copyFrom);
    const text = source && ("value" in source ? source.value : source.textContent.trim());
    const failed = () => say(button, "Copy failed: select the text and copy it");
    if (!text || !navigator.clipboard) {
      failed();
      return;
    }
    navigator.clipboard.writeText(text).then(() => say(button, "Copied"), failed);
  });
})();
