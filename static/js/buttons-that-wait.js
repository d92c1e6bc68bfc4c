// Buttons that call NetSuite and wait for its answer. In an element marked data-wait, while the
// request runs, the contents of its [data-wait-status] live region (hidden until then) say what is
// happening, and its buttons cannot send the request again:
// - htmx requests: hx-disabled-elt disables the buttons and hx-sync drops a second submit; this
//   script shows and hides the progress around the request.
// - plain form posts: this script refuses a second submit of the form and disables its buttons
//   until the next page arrives.
// A file rather than inline script or onclick attributes: the Content Security Policy refuses those.

function setWaiting(box, waiting) {
  box.setAttribute("aria-busy", waiting ? "true" : "false");
  // The live region stays in the page; what appears inside it is announced.
  for (const progress of box.querySelectorAll("[data-wait-status] > *")) {
    progress.hidden = !waiting;
  }
}

function boxOf(event) {
  const element = event.detail && event.detail.elt;
  return element instanceof Element ? element.closest("[data-wait]") : null;
}

document.addEventListener("htmx:beforeRequest", (event) => {
  const box = boxOf(event);
  if (box) {
    setWaiting(box, true);
  }
});

document.addEventListener("htmx:afterRequest", (event) => {
  const box = boxOf(event);
  if (box) {
    setWaiting(box, false);
  }
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  // htmx has taken this submit over (it cancels the browser's own): its request is handled above.
  if (event.defaultPrevented || !(form instanceof HTMLFormElement) || !form.matches("form[data-wait]")) {
    return;
  }
  if (form.dataset.waiting === "true") {
    event.preventDefault();
    return;
  }
  form.dataset.waiting = "true";
  setWaiting(form, true);
  // A disabled button is left out of what the form sends: the one pressed goes as a hidden field.
  const submitter = event.submitter;
  if (submitter && submitter.name) {
    const field = document.createElement("input");
    field.type = "hidden";
    field.name = submitter.name;
    field.value = submitter.value;
    form.append(field);
  }
  for (const button of form.querySelectorAll("button:not(:disabled)")) {
    button.disabled = true;
    button.dataset.waitDisabled = "true";
  }
});

// Back on this page from the browser's cache (the Back button): its buttons work again.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) {
    return;
  }
  for (const form of document.querySelectorAll("form[data-wait][data-waiting]")) {
    delete form.dataset.waiting;
    setWaiting(form, false);
    for (const button of form.querySelectorAll("button[data-wait-disabled]")) {
      button.disabled = false;
      delete button.dataset.waitDisabled;
    }
  }
});

// The answer appears where the eye is not: focus moves to it, so a screen reader reads it and
// the next Tab goes on from it. A result region says so with data-focus-result (and tabindex="-1").
document.addEventListener("htmx:afterSwap", (event) => {
  const target = event.detail && event.detail.target;
  if (target instanceof HTMLElement && target.matches("[data-focus-result]") && target.textContent.trim()) {
    target.focus();
  }
});
