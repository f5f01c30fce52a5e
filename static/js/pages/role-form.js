/* Role form (rbac/role_form.html): the permission picker (all of a service, filter, count). */
(function () {
  var picker = document.getElementById("picker");
  function refresh() {
    picker.querySelectorAll(".perm-group").forEach(function (g) {
      var boxes = g.querySelectorAll(".perm"), on = g.querySelectorAll(".perm:checked").length;
      var all = g.querySelector(".perm-all");
      all.checked = on === boxes.length; all.indeterminate = on > 0 && on < boxes.length;
    });
    document.getElementById("picked").textContent = picker.querySelectorAll(".perm:checked").length;
  }
  picker.addEventListener("change", function (e) {
    if (e.target.classList.contains("perm-all")) {
      e.target.closest(".perm-group").querySelectorAll(".perm-item:not(.d-none) .perm").forEach(function (b) { b.checked = e.target.checked; });
    }
    refresh();
  });
  document.getElementById("perm-filter").addEventListener("input", function (e) {
    var term = e.target.value.trim().toLowerCase(), shown = 0;
    picker.querySelectorAll(".perm-group").forEach(function (g) {
      var visible = 0;
      g.querySelectorAll(".perm-item").forEach(function (item) {
        var match = !term || item.dataset.search.indexOf(term) !== -1;
        item.classList.toggle("d-none", !match); if (match) visible++;
      });
      g.classList.toggle("d-none", visible === 0); shown += visible;
    });
    document.getElementById("perm-none").classList.toggle("d-none", shown > 0);
  });
  refresh();
})();
