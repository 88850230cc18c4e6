// The account pages (/account/verify, /reset, /invite, /email). A mailed
// link carries its token in the fragment, which never reaches a server.
// The page takes the token out of the address bar at once and sends it
// only when the person presses the button: a mail scanner that opens the
// link consumes nothing. Everything the API returns is shown with
// textContent, never parsed as HTML.
"use strict";

(function () {
  var LABELS = {
    email: "Email address",
    new_password: "New password",
    password: "Password",
    full_name: "Full name",
    token: "Link",
    invite_token: "Link",
  };

  var status = document.getElementById("status");

  // The token of the link, and the address bar without it.
  function takeToken() {
    var params = new URLSearchParams(window.location.hash.slice(1));
    var token = params.get("token");

    if (window.location.hash !== "") {
      window.history.replaceState(null, "",
        window.location.pathname + window.location.search);
    }
    return token;
  }

  function clearStatus() {
    while (status.firstChild) {
      status.removeChild(status.firstChild);
    }
    status.className = "";
  }

  function say(text, kind) {
    var p = document.createElement("p");

    clearStatus();
    status.className = kind || "";
    p.textContent = text;
    status.appendChild(p);
    return p;
  }

  function sayDone(text) {
    say(text, "done");
  }

  // The error envelope of the API: its message, and for a 422 the
  // message of each field.
  function sayError(err) {
    var list, item;

    say(err.message, "error");
    if (!err.details || err.details.length === 0) {
      return;
    }
    list = document.createElement("ul");
    err.details.forEach(function (d) {
      item = document.createElement("li");
      item.textContent = (LABELS[d.field] || d.field) + ": " + d.message;
      list.appendChild(item);
    });
    status.appendChild(list);
  }

  // POSTs body as JSON. Resolves with {status, body} (body null when
  // empty or not JSON); rejects with an {message} when the request fails
  // or the answer is an error.
  function post(path, body) {
    return window.fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    }).catch(function () {
      throw { message: "Homebot cannot be reached. Check the connection and try again." };
    }).then(function (resp) {
      return resp.text().then(function (text) {
        var data = null;

        try {
          data = text === "" ? null : JSON.parse(text);
        } catch (e) {
          data = null;
        }
        if (resp.ok) {
          return { status: resp.status, body: data };
        }
        if (data && data.error && typeof data.error.message === "string") {
          throw data.error;
        }
        throw { message: "Homebot answered with an error (HTTP " + resp.status + "). Try again later." };
      });
    });
  }

  // Wires form: on submit, check() may refuse with a message; otherwise
  // send() runs with the button disabled. A success hides the form; an
  // error leaves it, so the person can correct and try again.
  function onSubmit(form, check, send) {
    var button = form.querySelector("button");

    form.hidden = false;
    form.addEventListener("submit", function (event) {
      var problem;

      event.preventDefault();
      problem = check ? check() : null;
      if (problem) {
        say(problem, "error");
        return;
      }
      button.disabled = true;
      say("Sending…");
      send().then(function (text) {
        form.hidden = true;
        sayDone(text);
      }, function (err) {
        sayError(err);
      }).then(function () {
        button.disabled = false;
      });
    });
  }

  function value(id) {
    return document.getElementById(id).value;
  }

  function incomplete() {
    var intro = document.getElementById("intro");

    if (intro) {
      intro.hidden = true;
    }
    say("This link is incomplete: it carries no token. Open the link in the " +
      "mail again, or copy the whole address from the mail into the browser.",
      "error");
  }

  var pages = {
    verify: function (form, token) {
      onSubmit(form, null, function () {
        return post("/api/v1/auth/verify-email", { token: token })
          .then(function (r) {
            return "Your email address " + r.body.user.email + " is confirmed.";
          });
      });
    },

    email: function (form, token) {
      onSubmit(form, null, function () {
        return post("/api/v1/auth/email/confirm", { token: token })
          .then(function (r) {
            return "Your email address is now " + r.body.user.email + ".";
          });
      });
    },

    invite: function (form, token) {
      onSubmit(form, null, function () {
        var body = { invite_token: token, password: value("password") };
        var name = value("full-name").trim();

        if (name !== "") {
          body.full_name = name;
        }
        return post("/api/v1/auth/accept-invite", body).then(function (r) {
          return "You joined " + r.body.organization.name + " as " +
            r.body.role + ".";
        });
      });
    },

    reset: function (form, token) {
      onSubmit(form, function () {
        if (value("new-password") !== value("repeat-password")) {
          return "The two passwords differ. Type the same new password twice.";
        }
        return null;
      }, function () {
        return post("/api/v1/auth/password/reset",
          { token: token, new_password: value("new-password") })
          .then(function () {
            return "Your password is changed. You can now sign in with it.";
          });
      });
    },
  };

  // A reset page without a token asks for the address to mail a link to.
  function forgot() {
    onSubmit(document.getElementById("forgot-form"), null, function () {
      return post("/api/v1/auth/password/forgot", { email: value("email").trim() })
        .then(function () {
          return "If an account exists for that address, a link is on its way.";
        });
    });
  }

  function start() {
    var page = document.body.getAttribute("data-page");
    var token = takeToken();

    if (!Object.prototype.hasOwnProperty.call(pages, page)) {
      return;
    }
    if (!token) {
      if (page === "reset") {
        forgot();
      } else {
        incomplete();
      }
      return;
    }
    pages[page](document.getElementById("form"), token);
  }

  start();
})();
