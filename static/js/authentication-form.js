// The HTTP Authentication form. Focus goes where the server marked the eye should go
// (data-focus-on-load: the error summary of a failed Save, the question before saving refused
// credentials, the result of Retrieve), on load and after htmx swaps the whole form in; and the
// links of an error summary (data-error-summary) take focus to their field, its label in view.
// A file rather than inline script: the Content Security Policy refuses that.

// While settling a swap htmx copies some attributes of the old elements onto the new ones; a
// style attribute (even an empty one, as axe-core leaves behind) is inline style, which the
// Content Security Policy refuses. The whole form is swapped in after Retrieve: copy no style.
if (window.htmx) {
  window.htmx.config.attributesToSettle = ["class", "width", "height"];
}

function focusMarked() {
  const marked = document.querySelector("#authentication-form [data-focus-on-load]");
  if (marked instanceof HTMLElement) {
    // Once: later htmx swaps elsewhere on the page (the key pair panel) must not pull focus back.
    marked.removeAttribute("data-focus-on-load");
    marked.focus();
  }
}

focusMarked();
document.addEventListener("htmx:afterSettle", focusMarked);

document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("[data-error-summary] a[href^='#']") : null;
  if (!link) {
    return;
  }
  const field = document.getElementById(decodeURIComponent(link.hash.slice(1)));
  if (!(field instanceof HTMLElement)) {
    return;
  }
  event.preventDefault();
  // As GOV.UK's error summary does: the question (label, or a group's legend) shows above its field.
  const group = field.type === "checkbox" || field.type === "radio" ? field.closest("fieldset") : null;
  const caption = group ? group.querySelector("legend") : document.querySelector(`label[for="${CSS.escape(field.id)}"]`);
  (caption || field).scrollIntoView({ block: "start" });
  field.focus({ preventScroll: true });
});
