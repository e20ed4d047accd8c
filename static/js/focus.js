/* Focus and announcements after htmx swaps (WCAG 2.4.3 focus order, 4.1.3 status messages).
   A static file because our CSP allows no inline script and no hx-on. Without JavaScript none of
   this is needed: every action is a page load, and the browser honours `autofocus` there.

   After a swap brought by a link, or one that took the focus away (the clicked button was replaced,
   so focus fell back to <body>):
   1. the swapped content's own choice: an element with `autofocus` (a reply box that just opened);
   2. else the first field in error (`aria-invalid="true"`) of a form that came back with errors;
   3. else a closed reply box gives focus back to its comment's Reply link;
   4. else the heading of the updated region (data-heading, aria-labelledby, or its first h1/h2), which
      screen readers then read out: "Posts tagged #htmx", "Results for ...".
   Typing in the search box keeps the focus there: it never moved. Status text in the new content
   (role="status", e.g. "12 posts found") is copied into the page's one polite live region, which
   stays in the page across swaps, so it is announced. */
(function () {
  "use strict";

  function focusLost() {
    var active = document.activeElement;
    return !active || active === document.body || !document.body.contains(active);
  }

  function focusOn(element) {
    if (!element) return false;
    if (!element.matches("a[href], button, input, select, textarea, [tabindex]")) {
      element.setAttribute("tabindex", "-1");
    }
    element.focus({ preventScroll: false });
    return document.activeElement === element;
  }

  function headingOf(region) {
    var named = region.getAttribute && region.getAttribute("data-heading");
    if (named && document.querySelector(named)) return document.querySelector(named);
    var labelledby = region.getAttribute && region.getAttribute("aria-labelledby");
    var heading = labelledby && document.getElementById(labelledby.split(" ")[0]);
    return heading || region.querySelector("h1, h2");
  }

  function announce(region) {
    var announcer = document.getElementById("announcer");
    if (!announcer || !region.querySelectorAll) return;
    var statuses = region.matches("[role=status]") ? [region] : [];
    statuses = statuses.concat(Array.prototype.slice.call(region.querySelectorAll("[role=status]")));
    var text = statuses.map(function (el) { return el.textContent.trim(); }).filter(Boolean).join(" ");
    if (text) {
      announcer.textContent = "";
      window.setTimeout(function () { announcer.textContent = text; }, 50);
    }
  }

  function polling(config) {
    var elt = config && config.elt;
    var trigger = (elt && elt.getAttribute && elt.getAttribute("hx-trigger")) || "";
    return /(^|,)\s*(every |load)/.test(trigger);
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.target;
    if (!target || !target.querySelector || !document.body.contains(target)) return;
    if (polling(event.detail.requestConfig)) return;  // nobody asked for it: leave focus alone
    announce(target);  // flash messages arrive out of band as a new #flashes: announce them too
    if (target.id === "flashes") return;
    // A link is a navigation, even in place: the reader's attention moves to what it brought, even
    // when htmx kept the focus on a link of the same id (the tag chips are swapped out of band).
    var trigger = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!focusLost() && !(trigger && trigger.tagName === "A")) return;
    if (focusOn(target.querySelector("[autofocus]"))) return;
    if (focusOn(target.querySelector("[aria-invalid=true]"))) return;
    if (target.classList.contains("reply-slot") && !target.firstElementChild) {
      focusOn(document.getElementById(target.id.replace("reply-slot-", "reply-link-")));
      return;
    }
    focusOn(headingOf(target));
  });
})();
