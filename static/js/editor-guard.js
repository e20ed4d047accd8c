/* Ask before leaving the editor with unsaved changes (issue 14). A static file: our CSP allows no
   inline script. The browser offers no HTML way to do this, so it is the one thing here that needs JS;
   without JavaScript there is no autosave either, and the form is saved by its Save button.

   Typing in #post-form marks it dirty (an edit counter). Submitting it clears the mark. So does an
   autosave that succeeded (2xx), but only when nothing was typed while it was on its way: the
   counter is noted when the request leaves and compared when the answer comes back.

   Once the form is being saved, autosaves still waiting (the 3 s timer, or queued behind the save)
   are cancelled: they would only be refused as older than the save. If the save comes back with
   errors, the form is swapped in again and autosave resumes. */
(function () {
  "use strict";

  var edits = 0;      // edits since the page loaded
  var safe = 0;       // edits that are saved (by an autosave) or being submitted
  var sent = new WeakMap();  // edits count when each autosave left, by its request

  function form() { return document.getElementById("post-form"); }

  document.addEventListener("input", function (event) {
    if (event.target.closest && event.target.closest("#post-form")) edits += 1;
  });

  document.addEventListener("submit", function (event) {
    if (event.target === form()) safe = edits;
  });

  var saving = false;  // the form's Save has left: no more autosaves for this form

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id === "post-form") {  // the htmx save: treated like a submit
      safe = edits;
      saving = true;
    }
    if (elt && elt.id === "autosave") {
      if (saving) {
        event.preventDefault();
        return;
      }
      sent.set(event.detail.xhr, edits);
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    // The save came back with errors (422) or a conflict (409) instead of going to the post: the
    // form is swapped in again with the text, which is not saved; autosave resumes.
    var elt = event.detail.elt, xhr = event.detail.xhr;
    if (!elt || elt.id !== "post-form" || !xhr) return;
    if (xhr.getResponseHeader("HX-Redirect") || xhr.getResponseHeader("HX-Location")) return;
    saving = false;
    if (xhr.status >= 400) safe = Math.min(safe, edits - 1);
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || elt.id !== "autosave") return;
    var xhr = event.detail.xhr;
    if (event.detail.successful && xhr && xhr.status >= 200 && xhr.status < 300) {
      safe = Math.max(safe, sent.get(xhr) || 0);
    }
  });

  window.addEventListener("beforeunload", function (event) {
    if (!form() || edits <= safe) return undefined;
    event.preventDefault();
    event.returnValue = "";  // older browsers need it set to show the prompt
    return "";
  });
})();
