/*
 * clawflow web chat page. Plain JS, no framework, nothing loaded from elsewhere.
 *
 * Connects to <chat path>/ws with a one-time ticket from POST <chat path>/ticket, says hello
 * with its stable peer id (localStorage) and the last sequence number it has seen, and shows
 * the events the server sends. A message stays pending ("waiting to send") until the server
 * shows it back (its "received" ack, sent once the flow took it): pending messages are sent
 * again on every reconnect, and after a `retry` frame (the flow was being redeployed); the
 * server ignores a resend it already has (same clientId). All text reaches the DOM as
 * text nodes (ClawflowMarkdown.render), never as HTML.
 */
(function () {
  'use strict';

  var STRINGS = {
    en: {
      title: 'Chat', empty: 'Say hello to start the conversation.', placeholder: 'Type a message', send: 'Send',
      name: 'Your name', tokenLabel: 'This chat needs an access token.', tokenWrong: 'That access token was not accepted. Try again.',
      open: 'Open', connecting: 'Connecting…', reconnecting: 'Connection lost. Reconnecting…',
      unreachable: 'The server is unreachable. Retrying in {s} s…', failed: 'The reply failed', waiting: 'waiting to send',
      serverError: 'The server refused a message: {m}', you: 'You', notSent: 'not sent',
    },
    zh: {
      title: '聊天', empty: '打个招呼，开始对话吧。', placeholder: '输入消息', send: '发送',
      name: '你的名字', tokenLabel: '此聊天需要访问令牌。', tokenWrong: '访问令牌不正确，请重试。',
      open: '打开', connecting: '正在连接…', reconnecting: '连接已断开，正在重新连接…',
      unreachable: '无法连接服务器，{s} 秒后重试…', failed: '回复失败', waiting: '等待发送',
      serverError: '服务器拒绝了一条消息：{m}', you: '你', notSent: '未发送',
    },
  };
  var lang = /^zh\b/i.test(navigator.language || '') ? 'zh' : 'en';
  function t(key, vars) {
    var s = STRINGS[lang][key] || STRINGS.en[key] || key;
    return s.replace(/\{(\w+)\}/g, function (_, k) { return vars && vars[k] != null ? String(vars[k]) : ''; });
  }

  var $ = function (id) { return document.getElementById(id); };
  var els = {
    title: $('title'), log: $('log'), empty: $('empty'), typing: $('typing'), status: $('status'),
    composer: $('composer'), input: $('input'), send: $('send'), name: $('name'),
    tokenForm: $('token-form'), token: $('token'),
  };
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  els.empty.textContent = t('empty');
  els.input.placeholder = t('placeholder');
  els.send.textContent = t('send');
  els.name.placeholder = t('name');
  els.tokenForm.querySelector('label').textContent = t('tokenLabel');
  els.tokenForm.querySelector('button').textContent = t('open');

  // Storage may be blocked (private mode): fall back to memory for this tab.
  var memory = {};
  var store = {
    get: function (k) { try { return window.localStorage.getItem(k); } catch (e) { return memory[k] || null; } },
    set: function (k, v) { try { window.localStorage.setItem(k, v); } catch (e) { memory[k] = v; } },
  };
  var prefix = 'clawflow.webchat:' + location.pathname.replace(/\/+$/, '') + ':';

  function randomId(bytes) {
    var a = new Uint8Array(bytes);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }
  var peerId = store.get(prefix + 'peer');
  if (!peerId || !/^[A-Za-z0-9_-]{8,64}$/.test(peerId)) {
    peerId = randomId(16);
    store.set(prefix + 'peer', peerId);
  }
  els.name.value = store.get(prefix + 'name') || '';
  els.name.addEventListener('change', function () { store.set(prefix + 'name', els.name.value.trim()); });

  // A token can come in the link (#token=...): kept, then removed from the address bar.
  var token = store.get(prefix + 'token') || '';
  var hashToken = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (hashToken) {
    token = decodeURIComponent(hashToken[1]);
    store.set(prefix + 'token', token);
    history.replaceState(null, '', location.pathname + location.search);
  }

  var ws = null;
  var epoch = null;
  var lastSeq = 0;
  var attempt = 0;
  var retryTimer = null;
  var state = 'connecting'; // connecting | online | reconnecting | unreachable | token
  var entries = {};   // message id -> { event, el }
  var pending = [];   // { clientId, text, name, el } typed but not yet confirmed by the server
  var order = [];     // message ids in seq order of first appearance

  function setStatus(next, vars) {
    state = next;
    var text = next === 'online' ? '' : next === 'connecting' ? t('connecting') : next === 'reconnecting' ? t('reconnecting')
      : next === 'unreachable' ? t('unreachable', vars) : '';
    els.status.textContent = text;
    els.status.hidden = !text;
    els.status.className = 'status' + (next === 'unreachable' ? ' error' : '');
    document.body.setAttribute('data-state', next);
  }

  function scroll() {
    els.log.scrollTop = els.log.scrollHeight;
  }

  function renderBody(el, ev) {
    var body = document.createElement('div');
    body.className = 'body';
    if (ev.role === 'user') body.textContent = ev.text;
    else body.appendChild(window.ClawflowMarkdown.render(ev.text, document));
    el.textContent = '';
    if (ev.role === 'user' && ev.name) {
      var who = document.createElement('span');
      who.className = 'who';
      who.textContent = ev.name;
      el.appendChild(who);
    }
    el.appendChild(body);
    if (ev.error) {
      var f = document.createElement('div');
      f.className = 'failure';
      f.textContent = t('failed') + ': ' + ev.error;
      el.appendChild(f);
    }
    el.className = 'msg ' + ev.role + (ev.done ? '' : ' streaming') + (ev.error ? ' failed' : '') + (ev.role === 'bot' && !ev.done && !ev.text ? ' empty-draft' : '');
    el.hidden = ev.role === 'bot' && !ev.done && !ev.text && !ev.error; // the typing dots stand for it
  }

  function apply(ev) {
    if (typeof ev.seq === 'number' && ev.seq > lastSeq) lastSeq = ev.seq;
    if (ev.role === 'user' && ev.clientId) {
      for (var i = 0; i < pending.length; i++) {
        if (pending[i].clientId === ev.clientId) {
          pending[i].el.remove();
          pending.splice(i, 1);
          break;
        }
      }
    }
    var entry = entries[ev.id];
    if (!entry) {
      entry = entries[ev.id] = { event: ev, el: document.createElement('div') };
      entry.el.setAttribute('data-id', ev.id);
      order.push(ev.id);
      var firstPending = pending.length ? pending[0].el : null;
      els.log.insertBefore(entry.el, firstPending && firstPending.parentNode === els.log ? firstPending : null);
    } else if (entry.event.seq > ev.seq) {
      return; // an older state of an entry we already show
    }
    entry.event = ev;
    renderBody(entry.el, ev);
  }

  /** Typing while a reply streams with no text yet, or right after a message (for two minutes). */
  function updateTyping() {
    var show = false;
    var last = order.length ? entries[order[order.length - 1]].event : null;
    for (var i = 0; i < order.length; i++) {
      var ev = entries[order[i]].event;
      if (ev.role === 'bot' && !ev.done && Date.now() - ev.ts < 120000) show = true;
    }
    if (last && last.role === 'user' && Date.now() - last.ts < 120000) show = true;
    var streamingWithText = order.some(function (id) { var e = entries[id].event; return e.role === 'bot' && !e.done && e.text; });
    els.typing.hidden = !show || streamingWithText;
    els.empty.hidden = order.length > 0 || pending.length > 0;
    document.body.setAttribute('data-typing', els.typing.hidden ? 'no' : 'yes');
  }

  function reset() {
    Object.keys(entries).forEach(function (id) { entries[id].el.remove(); });
    entries = {};
    order = [];
    lastSeq = 0;
  }

  function onFrame(frame) {
    if (frame.type === 'welcome') {
      if (frame.reset || frame.epoch !== epoch) reset();
      epoch = frame.epoch;
      frame.events.forEach(apply);
      attempt = 0;
      setStatus('online');
      pending.forEach(sendPending);
    } else if (frame.type === 'event') {
      apply(frame.event);
    } else if (frame.type === 'retry') {
      // Not taken (the flow was redeploying): send the same message again a little later.
      var p = findPending(frame.clientId);
      if (p && !p.retryTimer) {
        p.retryTimer = setTimeout(function () {
          p.retryTimer = null;
          if (pending.indexOf(p) >= 0) sendPending(p);
        }, Math.min(30000, Math.max(100, Number(frame.afterMs) || 1000)));
      }
    } else if (frame.type === 'error') {
      els.status.textContent = t('serverError', { m: frame.message });
      els.status.hidden = false;
      // A refused message (too long, malformed) would be refused again: stop resending it and
      // show it failed. 'too_fast' is followed by a retry frame instead.
      var refused = frame.clientId && frame.code !== 'too_fast' ? findPending(frame.clientId) : null;
      if (refused) {
        pending.splice(pending.indexOf(refused), 1);
        if (refused.retryTimer) clearTimeout(refused.retryTimer);
        refused.el.className = 'msg user failed';
        var note = refused.el.querySelector('.note');
        if (note) note.textContent = t('notSent') + ': ' + frame.message;
      }
    }
    updateTyping();
    scroll();
  }

  function findPending(clientId) {
    for (var i = 0; i < pending.length; i++) if (pending[i].clientId === clientId) return pending[i];
    return null;
  }

  function sendPending(p) {
    if (!ws || ws.readyState !== WebSocket.OPEN || state !== 'online') return;
    var frame = { type: 'send', clientId: p.clientId, text: p.text };
    if (p.name) frame.name = p.name;
    ws.send(JSON.stringify(frame));
  }

  function scheduleRetry(kind) {
    if (retryTimer) return;
    var delay = Math.min(10000, 500 * Math.pow(2, attempt++));
    setStatus(kind, { s: Math.ceil(delay / 1000) });
    retryTimer = setTimeout(function () {
      retryTimer = null;
      connect();
    }, delay);
  }

  function connect() {
    if (ws || state === 'token') return;
    var headers = token ? { 'X-Clawflow-Token': token } : {};
    fetch('ticket', { method: 'POST', headers: headers, cache: 'no-store', credentials: 'same-origin' })
      .then(function (res) {
        if (res.status === 401) {
          return res.json().catch(function () { return {}; }).then(function (body) {
            askToken(body.error === 'token_invalid');
            return null;
          });
        }
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json().then(function (body) { return body.ticket; });
      })
      .then(function (ticket) {
        if (!ticket) return;
        var url = new URL('ws', location.href);
        url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
        url.search = '?ticket=' + encodeURIComponent(ticket);
        url.hash = '';
        var sock = (ws = new WebSocket(url.href));
        sock.onopen = function () {
          var hello = { type: 'hello', peerId: peerId, lastSeq: lastSeq };
          if (epoch) hello.epoch = epoch;
          sock.send(JSON.stringify(hello));
        };
        sock.onmessage = function (e) {
          var frame;
          try { frame = JSON.parse(e.data); } catch (err) { return; }
          onFrame(frame);
        };
        sock.onclose = function () {
          if (ws === sock) ws = null;
          scheduleRetry(state === 'online' ? 'reconnecting' : 'unreachable');
        };
      })
      .catch(function () {
        scheduleRetry(state === 'online' || state === 'reconnecting' ? 'reconnecting' : 'unreachable');
      });
  }

  function askToken(wrong) {
    setStatus('token');
    els.tokenForm.hidden = false;
    els.composer.hidden = true;
    els.tokenForm.querySelector('label').textContent = wrong ? t('tokenWrong') : t('tokenLabel');
    els.token.focus();
  }
  els.tokenForm.addEventListener('submit', function (e) {
    e.preventDefault();
    token = els.token.value;
    store.set(prefix + 'token', token);
    els.tokenForm.hidden = true;
    els.composer.hidden = false;
    setStatus('connecting');
    connect();
  });

  function submit() {
    var text = els.input.value.trim();
    if (!text) return;
    els.input.value = '';
    autosize();
    var p = { clientId: randomId(12), text: text, name: els.name.value.trim() || undefined, el: document.createElement('div') };
    p.el.className = 'msg user pending';
    p.el.textContent = text;
    var note = document.createElement('span');
    note.className = 'note';
    note.textContent = t('waiting');
    p.el.appendChild(note);
    pending.push(p);
    els.log.appendChild(p.el);
    sendPending(p);
    updateTyping();
    scroll();
  }
  els.composer.addEventListener('submit', function (e) {
    e.preventDefault();
    submit();
  });
  els.input.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  function autosize() {
    els.input.style.height = 'auto';
    els.input.style.height = Math.min(els.input.scrollHeight, window.innerHeight * 0.4) + 'px';
  }
  els.input.addEventListener('input', autosize);

  // Back online or back to the tab: try at once instead of waiting for the backoff.
  function retryNow() {
    if (ws || state === 'token') return;
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
    connect();
  }
  window.addEventListener('online', retryNow);
  document.addEventListener('visibilitychange', function () { if (!document.hidden) retryNow(); });

  fetch('config.json', { cache: 'no-store' })
    .then(function (r) { return r.ok ? r.json() : {}; })
    .then(function (cfg) {
      var title = (cfg && cfg.title) || t('title');
      els.title.textContent = title;
      document.title = title;
    })
    .catch(function () { els.title.textContent = t('title'); });

  setStatus('connecting');
  updateTyping();
  connect();
})();
