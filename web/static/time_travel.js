"use strict";
// Time travel (F14): each slider runs over the campaign's versions; moving one shows the
// version's time and event, and letting go compares that version (the page is drawn on the
// server, so what it shows is what the API answers for that version).

const versions = JSON.parse(document.getElementById("versions-data").textContent);
const form = document.getElementById("moments");

function versionLabel(number) {
  const v = versions[number - 1];
  return v ? "version " + v.version + " · " + v.at.slice(0, 19).replace("T", " ") + " UTC · " + v.event : "";
}

for (const side of ["a", "b"]) {
  const slider = document.getElementById("slider-" + side);
  const label = document.getElementById("label-" + side);
  const moment = document.getElementById("at-" + side);
  label.textContent = versionLabel(Number(slider.value));
  slider.addEventListener("input", () => { label.textContent = versionLabel(Number(slider.value)); });
  slider.addEventListener("change", () => {
    moment.value = ""; // the slider's version, not the moment typed before
    form.requestSubmit();
  });
  moment.addEventListener("change", () => { if (moment.value) form.requestSubmit(); });
}

form.addEventListener("submit", () => {
  // A side chosen by a moment leaves its version out of the address, and the reverse.
  for (const side of ["a", "b"]) {
    const moment = document.getElementById("at-" + side);
    const slider = document.getElementById("slider-" + side);
    if (moment.value) slider.disabled = true; else moment.disabled = true;
  }
});
