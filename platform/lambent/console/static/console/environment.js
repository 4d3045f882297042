// The environment tab's values are password inputs: "Show" reveals one, "Hide" masks it again.
document.querySelectorAll("button.reveal").forEach(function (button) {
  button.addEventListener("click", function () {
    var input = document.getElementById(button.getAttribute("aria-controls"));
    var hidden = input.type === "password";
    input.type = hidden ? "text" : "password";
    button.textContent = hidden ? "Hide" : "Show";
  });
});
