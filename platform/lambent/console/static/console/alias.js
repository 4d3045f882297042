// The alias form's share slider: the percentage beside its label follows the slider as it moves.
document.querySelectorAll("input.weight").forEach(function (slider) {
  var shown = document.querySelector('output[for="' + slider.id + '"]');
  slider.addEventListener("input", function () { shown.textContent = slider.value; });
});
