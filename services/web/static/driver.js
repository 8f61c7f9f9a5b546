// The driver's own key: made in the browser, never extractable, kept in IndexedDB.
// It registers its public half (device page) and signs acceptances (job page) as a
// compact JWS, typ ketenpas-ack+jwt, alg Ed25519, kid = RFC 7638 thumbprint.
"use strict";
(function () {
  const DB = "ketenpas", STORE = "keys", ID = "device";

  function b64url(bytes) {
    let text = "";
    new Uint8Array(bytes).forEach(function (b) { text += String.fromCharCode(b); });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function utf8(text) { return new TextEncoder().encode(text); }

  function store(mode, work) {
    return new Promise(function (resolve, reject) {
      const open = indexedDB.open(DB, 1);
      open.onupgradeneeded = function () { open.result.createObjectStore(STORE); };
      open.onerror = function () { reject(open.error); };
      open.onsuccess = function () {
        const tx = open.result.transaction(STORE, mode);
        const request = work(tx.objectStore(STORE));
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      };
    });
  }

  async function thumbprint(x) {
    const canonical = '{"crv":"Ed25519","kty":"OKP","x":"' + x + '"}';
    return b64url(await crypto.subtle.digest("SHA-256", utf8(canonical)));
  }

  async function register(form) {
    const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
    const publicJwk = { kty: "OKP", crv: "Ed25519", x: jwk.x };
    const kid = await thumbprint(jwk.x);
    await store("readwrite", function (s) { return s.put({ key: pair.privateKey, kid: kid }, ID); });
    form.elements.jwk.value = JSON.stringify(publicJwk);
    form.submit();
  }

  async function acknowledge(form) {
    const held = await store("readonly", function (s) { return s.get(ID); });
    if (!held) { throw new Error("no key"); }
    const header = { alg: "Ed25519", typ: "ketenpas-ack+jwt", kid: held.kid };
    const claims = {
      link: form.dataset.linkHash,
      sub: form.dataset.sub,
      iat: Math.floor(Date.now() / 1000),
      jti: crypto.randomUUID(),
    };
    const input = b64url(utf8(JSON.stringify(header))) + "." + b64url(utf8(JSON.stringify(claims)));
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, held.key, utf8(input));
    form.elements.ack.value = input + "." + b64url(signature);
    form.submit();
  }

  function wire(selector, errorSelector, work) {
    document.querySelectorAll(selector).forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        work(form).catch(function () {
          const error = document.querySelector(errorSelector);
          if (error) { error.hidden = false; error.focus(); }
        });
      });
    });
  }

  wire("form.js-device", ".js-device-error", register);
  wire("form.js-ack", ".js-ack-error", acknowledge);
})();
