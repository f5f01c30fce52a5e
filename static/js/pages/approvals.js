/* Approval queue (provisioning/approvals.html): approve or deny a request from its row. */
document.querySelectorAll("[data-verdict]").forEach((b) => b.addEventListener("click", async () => {
  const row = b.closest("tr"), err = document.getElementById("decision-error");
  try {
    await Unimanager.api("POST", "/api/v1/provisioning/requests/" + row.dataset.request + "/" + b.dataset.verdict + "/", {comment: row.querySelector("[data-role=comment]").value});
    location.reload();
  } catch (e) { err.textContent = e.message; err.classList.remove("d-none"); }
}));
