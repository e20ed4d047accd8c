/* The editor's "Insert image" with JavaScript (issue 14): what HTML alone cannot do.
   - Insert image uploads the chosen file with its alt text to /my/media (JSON answer) and puts the
     Markdown at the body's cursor, instead of posting the whole editor (which appends it at the end:
     that is the no-JS path, and htmx's, if this script is missing).
   - An image pasted or dropped into the body goes into the fieldset's file field, and the focus
     moves to the alt text field (alt text is required), with the status saying so; then Enter
     there or the Insert image button inserts it where the cursor was.
   A static file (CSP script-src 'self'); event delegation, so it survives the form's htmx swaps. */
(function () {
  "use strict";

  function parts(element) {
    var form = element.closest && element.closest("form");
    var fieldset = form && form.querySelector("fieldset.insert-image");
    if (!fieldset) return null;
    return {
      form: form,
      fieldset: fieldset,
      file: fieldset.querySelector('input[type="file"]'),
      alt: fieldset.querySelector('input[name="image_alt"]'),
      button: fieldset.querySelector('button[value="insert_image"]'),
      status: fieldset.querySelector(".insert-status"),
      body: form.querySelector("#" + fieldset.getAttribute("data-body")),
    };
  }

  function say(p, text, isError) {
    p.status.textContent = text;
    p.status.classList.toggle("error", Boolean(isError));
  }

  function insertAtCursor(textarea, text) {
    var value = textarea.value;
    var start = textarea.selectionStart, end = textarea.selectionEnd;
    var before = value.slice(0, start), after = value.slice(end);
    // The image as a paragraph of its own: blank lines around it unless already there.
    var lead = !before ? "" : /\n\n$/.test(before) ? "" : /\n$/.test(before) ? "\n" : "\n\n";
    var trail = !after ? "\n" : /^\n\n/.test(after) ? "" : /^\n/.test(after) ? "\n" : "\n\n";
    textarea.value = before + lead + text + trail + after;
    var caret = (before + lead + text + trail).length;
    textarea.focus();
    textarea.setSelectionRange(caret, caret);
    // The live preview listens for input (hx-trigger "input changed").
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function firstMessage(fields, name) {
    return fields && fields[name] && fields[name].length ? fields[name].join(" ") : null;
  }

  function upload(p) {
    if (!p.file.files.length) {
      say(p, "Choose an image file first (or paste or drop one into the body).", true);
      p.file.focus();
      return;
    }
    if (!p.alt.value.trim()) {
      say(p, "Describe the image first: alt text is required.", true);
      p.alt.focus();
      return;
    }
    var tokenInput = p.form.querySelector('input[name="csrf_token"]');
    var token = tokenInput ? tokenInput.value : "";
    var data = new FormData();
    data.append("image", p.file.files[0]);
    data.append("image_alt", p.alt.value);
    data.append("csrf_token", token);
    p.button.disabled = true;
    say(p, "Uploading the image…");
    fetch(p.fieldset.getAttribute("data-upload-url"), {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": token },
    }).then(function (response) {
      return response.json().then(function (json) { return { ok: response.ok, json: json }; },
                                  function () { return { ok: false, json: {} }; });
    }).then(function (answer) {
      if (answer.ok) {
        insertAtCursor(p.body, answer.json.markdown);
        p.file.value = "";
        p.alt.value = "";
        say(p, "Inserted “" + answer.json.alt + "” at the cursor. Nothing is saved until you press Save.");
        return;
      }
      var fields = answer.json.fields || {};
      var altProblem = firstMessage(fields, "image_alt");
      say(p, altProblem || firstMessage(fields, "image") || answer.json.message ||
             "The image could not be uploaded.", true);
      (altProblem ? p.alt : p.file).focus();
    }).catch(function () {
      say(p, "The upload failed; check your connection and try again.", true);
    }).then(function () {
      p.button.disabled = false;
    });
  }

  function imageFile(transfer) {
    if (!transfer || !transfer.files) return null;
    for (var i = 0; i < transfer.files.length; i++) {
      if (/^image\//.test(transfer.files[i].type)) return transfer.files[i];
    }
    return null;
  }

  function stage(p, file) {
    var holder = new DataTransfer();
    holder.items.add(file);
    p.file.files = holder.files;
    say(p, "Image “" + (file.name || "pasted image") + "” ready: describe it in the alt text field, " +
           "then press Insert image.");
    p.alt.focus();
  }

  function bodyParts(target) {
    if (!target || !target.matches || !target.matches("textarea")) return null;
    var p = parts(target);
    return p && p.body === target ? p : null;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest('fieldset.insert-image button[value="insert_image"]');
    if (!button) return;
    var p = parts(button);
    if (!p || !p.body) return;
    event.preventDefault();
    upload(p);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !event.target.matches || !event.target.matches('fieldset.insert-image input[name="image_alt"]')) return;
    var p = parts(event.target);
    if (!p) return;
    event.preventDefault();  // not the form's default button (Save)
    upload(p);
  });

  document.addEventListener("paste", function (event) {
    var p = bodyParts(event.target);
    var file = p && imageFile(event.clipboardData);
    if (!file) return;
    event.preventDefault();
    stage(p, file);
  });

  document.addEventListener("dragover", function (event) {
    if (bodyParts(event.target) && event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") >= 0) {
      event.preventDefault();
    }
  });

  document.addEventListener("drop", function (event) {
    var p = bodyParts(event.target);
    var file = p && imageFile(event.dataTransfer);
    if (!file) return;
    event.preventDefault();
    stage(p, file);
  });
})();
