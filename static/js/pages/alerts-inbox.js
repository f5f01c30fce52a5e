/* Inbox (alerts/inbox.html): mark a message read. */
document.querySelectorAll("[data-read]").forEach((b) => b.addEventListener("click", async () => {
  await Unimanager.api("POST", "/api/v1/alerts/inbox/" + b.closest("[data-message]").dataset.message + "/read/", {});
  location.reload();
}));
