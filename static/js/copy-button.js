// Copy buttons: <button data-copy-from="id of the field to copy">. A script file rather than an
// onclick attribute, so that the Content Security Policy can refuse every inline script.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy-from]");
  if (!button) {
    return;
  }
  const field = document.getElementById(button.dataset.copyFrom);
  navigator.clipboard.writeText(field.value).then(
    () => { button.textContent = "Copied"; },
    () => { button.textContent = "Copy failed: select the key and copy it yourself"; },
  );
});
