// The account pages (/account/verify, /reset, /invite, /email). A mailed
// link carries its token in the fragment, which never reaches a server.
// The page takes the token out of the address bar at once and sends it
// only when the person presses the button: a mail scanner that opens the
// link consumes nothing. Everything the API returns is shown with
// textContent, never parsed as HTML.
//
// /account/security and /account/mfa sign the person in first. Their
// tokens live only in this script's variables, never in storage or a
// cookie, and leaving the page signs its session out.
"use strict";

(function () {
  var LABELS = {
    email: "Email address",
    new_password: "New password",
    password: "Password",
    full_name: "Full name",
    token: "Link",
    invite_token: "Link",
    code: "Code",
    recovery_code: "Recovery code",
    mfa_token: "Sign-in",
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
    return call("POST", path, body, null);
  }

  // Sends method path with body as JSON (none when undefined) and the
  // access token, if any; resolves and rejects as post() does. A
  // rejection for an error answer carries its HTTP status too.
  function call(method, path, body, access) {
    var headers = {};
    var init = { method: method, headers: headers, credentials: "omit",
      cache: "no-store" };

    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (access) {
      headers.Authorization = "Bearer " + access;
    }
    return window.fetch(path, init).catch(function () {
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
          data.error.status = resp.status;
          throw data.error;
        }
        throw { status: resp.status,
          message: "Homebot answered with an error (HTTP " + resp.status + "). Try again later." };
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

  // ---- the pages that sign in: /account/security, /account/mfa --------

  // The token response of the page's own sign-in; null when signed out.
  var session = null;

  function element(id) {
    return document.getElementById(id);
  }

  function removeChildren(el) {
    while (el.firstChild) {
      el.removeChild(el.firstChild);
    }
  }

  // Wires form: on submit, send() runs with the button disabled, and an
  // error it rejects with is shown; send() itself shows what comes next.
  function onForm(form, send) {
    var button = form.querySelector("button");

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (button.disabled) {
        return;
      }
      button.disabled = true;
      say("Sending…");
      send().catch(function (err) {
        sayError(err);
      }).then(function () {
        button.disabled = false;
      });
    });
  }

  function refuse(message) {
    return Promise.reject({ message: message });
  }

  // Forgets the session and shows the sign-in form again, with message.
  function signOut(message, kind) {
    session = null;
    Array.prototype.forEach.call(document.querySelectorAll(".signed-in"),
      function (el) {
        el.hidden = true;
      });
    element("code-form").hidden = true;
    element("signin-form").hidden = false;
    say(message, kind);
    element("password").focus();
  }

  // Calls the API with the session's access token. An answer that the
  // token is no longer good signs the page out.
  function authed(method, path, body) {
    if (!session) {
      return refuse("You are signed out. Sign in again.");
    }
    return call(method, path, body, session.access_token).catch(function (err) {
      if (err.status === 401 && err.code === "invalid_token") {
        session = null;
        signOut("", "");
        throw { message: "Your sign-in on this page has ended (" + err.message +
          ") Sign in again." };
      }
      throw err;
    });
  }

  // Signs in with #signin-form, then #code-form when the account has
  // two-factor authentication; signedIn() runs once it is done.
  function signIn(signedIn) {
    var signinForm = element("signin-form");
    var codeForm = element("code-form");
    var mfaToken = null;
    function done(tokens) {
      if (!tokens || typeof tokens.access_token !== "string") {
        return refuse("Homebot answered the sign-in strangely. Try again.");
      }
      session = tokens;
      mfaToken = null;
      element("password").value = "";
      element("code").value = "";
      signinForm.hidden = true;
      codeForm.hidden = true;
      element("intro").hidden = true;
      clearStatus();
      return signedIn();
    }

    onForm(signinForm, function () {
      var email = value("email").trim();
      var password = value("password");

      if (email === "" || password === "") {
        return refuse("Type your email address and your password.");
      }
      return post("/api/v1/auth/login", { email: email, password: password })
        .then(function (r) {
          if (r.body && r.body.mfa_required === true &&
            typeof r.body.mfa_token === "string") {
            mfaToken = r.body.mfa_token;
            element("password").value = "";
            signinForm.hidden = true;
            codeForm.hidden = false;
            clearStatus();
            element("code").focus();
            return null;
          }
          return done(r.body);
        });
    });

    onForm(codeForm, function () {
      var code = value("code").replace(/\s+/g, "");
      var body = { mfa_token: mfaToken };

      if (/^[0-9]{6}$/.test(code)) {
        body.code = code;
      } else if (/^[A-Za-z2-7]{5}-?[A-Za-z2-7]{5}$/.test(code)) {
        code = code.toLowerCase().replace("-", "");
        body.recovery_code = code.slice(0, 5) + "-" + code.slice(5);
      } else {
        return refuse("Type the 6-digit code your authenticator app shows, " +
          "or one of your recovery codes (like abcde-fghij).");
      }
      return post("/api/v1/auth/mfa/verify", body).then(function (r) {
        return done(r.body);
      }, function (err) {
        if (err.code === "invalid_mfa_token") {
          // The first step expired or was used: start over.
          mfaToken = null;
          element("code").value = "";
          codeForm.hidden = true;
          signinForm.hidden = false;
        }
        throw err;
      });
    });

    signOutOnLeave();
    signinForm.hidden = false;
    element("email").focus();
  }

  // Leaving the page ends its session: the tokens die with the page, so
  // the session would only stand in the list until it expired.
  function signOutOnLeave() {
    window.addEventListener("pagehide", function () {
      if (!session) {
        return;
      }
      window.fetch("/api/v1/auth/logout", {
        method: "POST",
        headers: { "Content-Type": "application/json",
          Authorization: "Bearer " + session.access_token },
        body: "{}",
        credentials: "omit",
        keepalive: true,
      }).catch(function () {
        return null;
      });
      signOut("You left the page, so it signed out.", "");
    });
  }

  function signedInAs() {
    element("who").textContent = "Signed in as " + session.user.email + ".";
    element("who").hidden = false;
  }

  // A short name of the device a user agent stands for ("Firefox on
  // Windows", "curl"), else its first 60 characters.
  function deviceName(ua) {
    var browsers = [
      [/Edg(e|A|iOS)?\//, "Edge"], [/OPR\/|Opera/, "Opera"],
      [/Firefox\/|FxiOS\//, "Firefox"], [/Chrom(e|ium)\/|CriOS\//, "Chrome"],
      [/Version\/.*Safari\//, "Safari"],
    ];
    var systems = [
      [/Android/, "Android"], [/iPhone|iPad|iPod/, "iOS"],
      [/Windows/, "Windows"], [/CrOS/, "ChromeOS"],
      [/Mac OS X|Macintosh/, "macOS"], [/Linux/, "Linux"],
    ];
    var browser = null, system = null, tool;

    if (typeof ua !== "string" || ua.trim() === "") {
      return "Unknown device";
    }
    browsers.some(function (b) {
      return b[0].test(ua) && (browser = b[1]);
    });
    systems.some(function (s) {
      return s[0].test(ua) && (system = s[1]);
    });
    if (browser) {
      return system ? browser + " on " + system : browser;
    }
    // A program names itself first: "curl/8.5.0", "python-requests/2.31".
    tool = /^([A-Za-z][A-Za-z0-9._-]{0,39})\//.exec(ua);
    if (tool) {
      return system ? tool[1] + " on " + system : tool[1];
    }
    return ua.length > 60 ? ua.slice(0, 60) + "…" : ua;
  }

  function when(stamp) {
    var d = new Date(stamp);

    if (typeof stamp !== "string" || isNaN(d.getTime())) {
      return "unknown";
    }
    return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function fact(list, term, text, stamp) {
    var dt = document.createElement("dt");
    var dd = document.createElement("dd");
    var t;

    dt.textContent = term;
    if (stamp) {
      t = document.createElement("time");
      t.setAttribute("datetime", stamp);
      t.textContent = text;
      dd.appendChild(t);
    } else {
      dd.textContent = text;
    }
    list.appendChild(dt);
    list.appendChild(dd);
  }

  // Every session of the user, following next_cursor (at most 10 pages).
  function fetchSessions() {
    var all = [];

    function page(cursor, n) {
      var path = "/api/v1/auth/sessions?limit=200" +
        (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");

      return authed("GET", path).then(function (r) {
        all = all.concat(r.body.data);
        if (r.body.next_cursor && n < 10) {
          return page(r.body.next_cursor, n + 1);
        }
        return all;
      });
    }
    return page(null, 1);
  }

  function showSessions(sessions) {
    var list = element("sessions");

    removeChildren(list);
    sessions.sort(function (a, b) {
      if (a.current !== b.current) {
        return a.current ? -1 : 1;
      }
      return a.last_used_at < b.last_used_at ? 1 : -1;
    });
    sessions.forEach(function (s) {
      var item = document.createElement("li");
      var head = document.createElement("p");
      var name = document.createElement("strong");
      var facts = document.createElement("dl");
      var button = document.createElement("button");
      var device = deviceName(s.user_agent);

      item.className = s.current ? "session current" : "session";
      item.setAttribute("data-session-id", s.id);
      head.className = "device";
      name.textContent = device;
      if (typeof s.user_agent === "string") {
        name.title = s.user_agent;
      }
      head.appendChild(name);
      if (s.current) {
        head.appendChild(document.createTextNode(" (this page)"));
      }
      item.appendChild(head);
      fact(facts, "Network", s.ip || "unknown");
      fact(facts, "Signed in", when(s.created_at), s.created_at);
      fact(facts, "Last use", when(s.last_used_at), s.last_used_at);
      item.appendChild(facts);
      button.type = "button";
      button.className = "revoke";
      button.textContent = s.current ? "Revoke and sign out" : "Revoke";
      button.setAttribute("aria-label", (s.current ? "Revoke this page's session: " :
        "Revoke the session of ") + device + ", " + (s.ip || "unknown network"));
      button.addEventListener("click", function () {
        revoke(s, device, button);
      });
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  function listSessions() {
    return fetchSessions().then(function (sessions) {
      showSessions(sessions);
      element("signed-in").hidden = false;
    });
  }

  function revoke(s, device, button) {
    button.disabled = true;
    say("Revoking…");
    authed("DELETE", "/api/v1/auth/sessions/" + encodeURIComponent(s.id))
      .then(function () {
        if (s.current) {
          signOut("You revoked the session of this page: it is signed out.", "done");
          return null;
        }
        return listSessions().then(function () {
          sayDone("The session of " + device + " is revoked: it is signed out.");
        });
      }, function (err) {
        if (err.status === 404) {
          // Gone already (signed out, expired): show what is left.
          return listSessions().then(function () {
            sayDone("That session had ended already.");
          });
        }
        throw err;
      }).catch(function (err) {
        sayError(err);
        button.disabled = false;
      });
  }

  function security() {
    var reload = element("reload");
    var out = element("sign-out");

    signIn(function () {
      signedInAs();
      return listSessions();
    });
    reload.addEventListener("click", function () {
      clearStatus();
      listSessions().catch(sayError);
    });
    out.addEventListener("click", function () {
      out.disabled = true;
      authed("POST", "/api/v1/auth/logout", {}).then(function () {
        signOut("You are signed out.", "done");
      }, sayError).then(function () {
        out.disabled = false;
      });
    });
  }

  // The QR code as a data: URI of the SVG image (an image runs no script
  // and loads nothing), or null when the answer is not such an SVG.
  function svgImage(svg) {
    if (typeof svg !== "string" || svg.length > 262144 ||
      !/^<svg [\x20-\x7e]*<\/svg>$/.test(svg)) {
      return null;
    }
    return "data:image/svg+xml;base64," + window.btoa(svg);
  }

  function mfa() {
    var startForm = element("start-form");
    var confirmForm = element("confirm-form");

    signIn(function () {
      signedInAs();
      if (session.user && session.user.mfa_enabled === true) {
        sayDone("Two-factor authentication is on for your account already. " +
          "Turning it off and new recovery codes are calls of the API " +
          "(see /docs).");
        return null;
      }
      startForm.hidden = false;
      element("start-password").focus();
      return null;
    });

    onForm(startForm, function () {
      var password = value("start-password");

      if (password === "") {
        return refuse("Type your password.");
      }
      return authed("POST", "/api/v1/auth/mfa/totp", { password: password })
        .then(function (r) {
          var qr = element("qr");
          var src = svgImage(r.body.qr_svg);

          element("start-password").value = "";
          qr.hidden = src === null;
          if (src !== null) {
            qr.src = src;
          }
          // In groups of four, easier to type.
          element("secret").textContent = String(r.body.secret)
            .replace(/(.{4})(?=.)/g, "$1 ");
          startForm.hidden = true;
          confirmForm.hidden = false;
          clearStatus();
          element("totp-code").focus();
        });
    });

    onForm(confirmForm, function () {
      var code = value("totp-code").replace(/\s+/g, "");

      if (!/^[0-9]{6}$/.test(code)) {
        return refuse("Type the 6-digit code your authenticator app shows.");
      }
      return authed("POST", "/api/v1/auth/mfa/totp/confirm", { code: code })
        .then(function (r) {
          var list = element("recovery-codes");

          removeChildren(list);
          r.body.recovery_codes.forEach(function (c) {
            var item = document.createElement("li");

            item.textContent = c;
            list.appendChild(item);
          });
          element("totp-code").value = "";
          element("secret").textContent = "";
          element("qr").removeAttribute("src");
          confirmForm.hidden = true;
          element("recovery").hidden = false;
          sayDone("Two-factor authentication is on. From now on, signing in " +
            "asks for a code from your app as well as your password.");
        });
    });
  }

  var signedInPages = { security: security, mfa: mfa };

  function start() {
    var page = document.body.getAttribute("data-page");
    var token;

    if (Object.prototype.hasOwnProperty.call(signedInPages, page)) {
      signedInPages[page]();
      return;
    }
    token = takeToken();
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
