/* Backups (resilience/backups.html): back up now, restore in place or as new; progress follows live. */
(function () {
  const err = document.getElementById("backup-error");
  async function post(path, body) {
    err.classList.add("d-none");
    try { await Unimanager.api("POST", path, body); location.reload(); }
    catch (e) { err.textContent = e.message; err.classList.remove("d-none"); }
  }
  document.querySelectorAll("[data-backup-run]").forEach((b) => b.addEventListener("click",
    () => post("/api/v1/resilience/backup-plans/" + b.dataset.backupRun + "/run/")));
  document.querySelectorAll("[data-restore]").forEach((b) => b.addEventListener("click",
    () => post("/api/v1/resilience/backup-jobs/" + b.dataset.restore + "/restore/", {target: b.dataset.target})));
})();
