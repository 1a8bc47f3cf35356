// Minimal script: the pages work without it. It only refreshes the job monitor while a job runs
// and asks before irreversible status changes.
(function () {
  "use strict";
  var jobs = document.querySelector("table.jobs[data-running='1']");
  if (jobs) { setTimeout(function () { window.location.reload(); }, 2000); }
  document.querySelectorAll("form.move, form.feedback").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var select = form.querySelector("select[name=status]");
      if (select && (select.value === "rejected" || select.value === "done") && !window.confirm("确认将提案改为该状态？")) {
        event.preventDefault();
      }
    });
  });
})();
