/* A dashboard page (dashboards/view.html): the live board, its connection and freshness, and the
 * organization variable. A save elsewhere reloads the page with the new version. */
(function () {
  const data = JSON.parse(document.getElementById("board-data").textContent);
  const status = document.getElementById("board-status");
  const show = (s) => {
    const problem = !s.connected ? "offline: reconnecting" : s.fetchFailed ? "cannot read data" :
      s.stale ? s.stale + " of " + s.widgets + " widgets stale" : "";
    status.textContent = problem || "live";
    status.classList.toggle("bad", !!problem);
  };
  const board = Unimanager.dashboards.board(document.getElementById("board"), data, {
    mode: "view", onStatus: show, onSaved: () => location.reload(),
  });
  const org = document.getElementById("board-org");
  if (org) {
    org.addEventListener("change", () => {
      board.params = org.value ? {organization: org.value} : {};
      board.loadAll();
    });
  }
})();
