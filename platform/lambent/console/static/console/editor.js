// Every <textarea class="code"> becomes a CodeMirror editor (syntax highlighting, line numbers).
// The editor writes its text back to the textarea on every change, so a plain form post and an
// htmx request alike send what is on screen.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof CodeMirror === "undefined") return;  // the plain textarea still works
  document.querySelectorAll("textarea.code").forEach(function (area) {
    var mode = area.dataset.mode === "json" ? {name: "javascript", json: true} : area.dataset.mode;
    var editor = CodeMirror.fromTextArea(area, {
      mode: mode, lineNumbers: true, indentUnit: 4, tabSize: 4, indentWithTabs: false,
      extraKeys: {Tab: function (cm) { cm.replaceSelection("    "); }, "Shift-Tab": false},
    });
    editor.on("change", function () { editor.save(); });
    area.editor = editor;
    var label = document.querySelector('label[for="' + area.id + '"]');
    if (label) editor.getInputField().setAttribute("aria-label", label.textContent);
  });
});
