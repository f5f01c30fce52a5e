/* Inspections (alerts/inspections.html): inspect an organization now, then show its report. */
(function () {
  "use strict";
  const form = document.getElementById("inspect-form");
  if (!form) return;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await Unimanager.api("POST", "/api/v1/alerts/inspections/", {organization: new FormData(form).get("organization")});
      location.reload();
    } catch (e) {
      const err = document.getElementById("inspect-error");
      err.textContent = e.message;
      err.classList.remove("d-none");
    }
  });
})();
