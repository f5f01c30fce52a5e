/* Dashboards list (dashboards/list.html): import a dashboard from a JSON file through the API. */
(function () {
  const input = document.getElementById("import-file");
  if (!input) return;
  const error = document.getElementById("import-error");
  const organization = JSON.parse(document.getElementById("import-organization").textContent) || null;
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    error.classList.add("d-none");
    let document_;
    try {
      document_ = JSON.parse(await file.text());
    } catch (e) {
      error.textContent = file.name + " is not a JSON file.";
      error.classList.remove("d-none");
      return;
    }
    try {
      const row = await Unimanager.api("POST", "/api/v1/dashboards/dashboards/import/", {
        organization: organization, document: document_,
        overwrite: document.getElementById("import-overwrite").checked,
      });
      location.assign("/console/dashboards/" + encodeURIComponent(row.uid) + "/");
    } catch (e) {
      const detail = e.body && e.body.detail ? Object.entries(e.body.detail).map(([k, v]) => k + ": " + v).join("; ") : "";
      error.textContent = "Import refused: " + e.message + (detail && detail !== e.message ? " (" + detail + ")" : "");
      error.classList.remove("d-none");
    }
    input.value = "";
  });
})();
