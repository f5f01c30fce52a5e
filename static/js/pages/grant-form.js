/* Grant form (rbac/grant_form.html): shows the grantee and scope pickers of the chosen kinds and copies
 * their choice into the hidden fields the form posts: on a change, when a search replaces a picker's
 * options (the first match is then chosen), and before the form is sent. */
(function () {
  var form = document.getElementById("grant-form");
  function sync() {
    var type = form.querySelector("input[name=grantee_type]:checked");
    type = type ? type.value : "user";
    form.querySelectorAll("[data-grantee]").forEach(function (el) { el.classList.toggle("d-none", el.dataset.grantee !== type); });
    var g = form.querySelector(".grantee-select[data-for='" + type + "']");
    document.getElementById("grantee").value = g ? g.value : "";
    var scope = document.getElementById("scope-type").value;
    form.querySelectorAll("[data-scope]").forEach(function (el) { el.classList.toggle("d-none", el.dataset.scope.split(" ").indexOf(scope) === -1); });
    var s = form.querySelector(".scope-select[data-for='" + scope + "']");
    document.getElementById("scope").value = s ? s.value : "";
  }
  form.addEventListener("change", sync);
  form.addEventListener("submit", sync);
  document.body.addEventListener("htmx:afterSwap", function (e) { if (form.contains(e.target)) sync(); });
  sync();
})();
