/* Portal quotas (quotas/mine.html): the "For" choice fills the organization, project and dimension
 * the request is about, and proposes a new limit above the current one. */
(function () {
  const node = document.getElementById("a-node");
  if (!node) return;
  const limit = document.getElementById("a-limit");
  function fill() {
    const [org, project, dim, current] = (node.value || "|||").split("|");
    document.getElementById("a-org").value = org;
    document.getElementById("a-project").value = project;
    document.getElementById("a-dim").value = dim;
    if (!limit.value || parseInt(limit.value, 10) <= parseInt(current, 10)) limit.value = parseInt(current || "0", 10) + 1;
  }
  node.addEventListener("change", () => { limit.value = ""; fill(); });
  fill();
})();
