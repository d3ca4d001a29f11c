/*
 * clawflow web chat: a small, safe Markdown renderer (no dependencies).
 *
 * parse(text) turns text into a plain tree (paragraphs, headings, fenced code, lists; bold,
 * italic, inline code, links). render(tree, document) builds DOM nodes from it with
 * createElement and textContent only: model output and user input are never parsed as HTML,
 * so a reply cannot inject markup or script. Links are kept only for http: and https:.
 * Unfinished markup (a reply still streaming) simply shows as text until it is closed.
 */
(function (root) {
  'use strict';

  function safeUrl(url) {
    return typeof url === 'string' && /^https?:\/\/[^\s]+$/i.test(url);
  }

  var ESCAPABLE = /[\\`*_\[\]()#+\-.!>~|{}]/;

  /**
   * Index of the marker that closes emphasis opened before `from`, or -1. A closer is not
   * preceded by a space, and an underscore closer is not followed by a letter or digit
   * (so snake_case and __dunder__names stay text).
   */
  function findClose(s, marker, from) {
    var at = s.indexOf(marker, from);
    while (at !== -1) {
      var after = s[at + marker.length] || '';
      var ok = s[at - 1] !== ' ' && !(marker[0] === '_' && /\w/.test(after)) && !(marker.length === 1 && after === marker);
      if (ok) return at;
      at = s.indexOf(marker, at + (marker.length === 1 && after === marker ? 2 : 1));
    }
    return -1;
  }

  function parseInline(s) {
    var out = [];
    var buf = '';
    var i = 0;
    function flush() {
      if (buf) out.push({ t: 'text', v: buf });
      buf = '';
    }
    while (i < s.length) {
      var ch = s[i];
      var prev = i > 0 ? s[i - 1] : '';
      if (ch === '\\' && i + 1 < s.length && ESCAPABLE.test(s[i + 1])) {
        buf += s[i + 1];
        i += 2;
        continue;
      }
      if (ch === '`') {
        var endCode = s.indexOf('`', i + 1);
        if (endCode > i + 1) {
          flush();
          out.push({ t: 'code', v: s.slice(i + 1, endCode) });
          i = endCode + 1;
          continue;
        }
      }
      if ((ch === '*' || ch === '_') && s[i + 1] === ch && !(ch === '_' && /\w/.test(prev))) {
        var endBold = findClose(s, ch + ch, i + 2);
        if (endBold > i + 2 && s[i + 2] !== ' ') {
          flush();
          out.push({ t: 'b', c: parseInline(s.slice(i + 2, endBold)) });
          i = endBold + 2;
          continue;
        }
      }
      if ((ch === '*' || ch === '_') && s[i + 1] && s[i + 1] !== ' ' && s[i + 1] !== ch && !(ch === '_' && /\w/.test(prev))) {
        var endIt = findClose(s, ch, i + 1);
        if (endIt > i + 1) {
          flush();
          out.push({ t: 'i', c: parseInline(s.slice(i + 1, endIt)) });
          i = endIt + 1;
          continue;
        }
      }
      if (ch === '[') {
        var link = /^\[([^\]\n]+)\]\(([^()\s]+)\)/.exec(s.slice(i));
        if (link) {
          flush();
          if (safeUrl(link[2])) out.push({ t: 'a', href: link[2], c: parseInline(link[1]) });
          else out.push({ t: 'text', v: link[1] + ' (' + link[2] + ')' });
          i += link[0].length;
          continue;
        }
      }
      if ((ch === 'h' || ch === 'H') && !/\w/.test(prev)) {
        var bare = /^https?:\/\/[^\s<>()]*[^\s<>().,;:!?'"*_`]/i.exec(s.slice(i));
        if (bare) {
          flush();
          out.push({ t: 'a', href: bare[0], c: [{ t: 'text', v: bare[0] }] });
          i += bare[0].length;
          continue;
        }
      }
      buf += ch;
      i++;
    }
    flush();
    return out;
  }

  /** Block structure of `text`: [{type:'p'|'h'|'code'|'ul'|'ol', ...}]. */
  function parse(text) {
    var lines = String(text == null ? '' : text).replace(/\r\n?/g, '\n').split('\n');
    var blocks = [];
    var para = null;
    var list = null;
    function endPara() {
      if (para) blocks.push({ type: 'p', c: parseInline(para.join('\n')) });
      para = null;
    }
    function endList() {
      if (list) {
        blocks.push({
          type: list.type,
          start: list.start,
          items: list.items.map(function (item) {
            return parseInline(item);
          }),
        });
      }
      list = null;
    }
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i];
      var fence = /^\s{0,3}(```+|~~~+)\s*([\w+#.-]*)\s*$/.exec(line);
      if (fence) {
        endPara();
        endList();
        var body = [];
        var j = i + 1;
        while (j < lines.length && !new RegExp('^\\s{0,3}' + fence[1][0] + '{' + fence[1].length + ',}\\s*$').test(lines[j])) {
          body.push(lines[j]);
          j++;
        }
        blocks.push({ type: 'code', lang: fence[2] || '', v: body.join('\n') });
        i = j; // the closing fence (or the end, while a reply streams)
        continue;
      }
      if (/^\s*$/.test(line)) {
        endPara();
        endList();
        continue;
      }
      var heading = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
      if (heading) {
        endPara();
        endList();
        blocks.push({ type: 'h', level: heading[1].length, c: parseInline(heading[2]) });
        continue;
      }
      var ul = /^\s{0,3}[-*+]\s+(.*)$/.exec(line);
      var ol = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/.exec(line);
      if (ul || ol) {
        endPara();
        var type = ul ? 'ul' : 'ol';
        if (!list || list.type !== type) {
          endList();
          list = { type: type, start: ol ? parseInt(ol[1], 10) : 1, items: [] };
        }
        list.items.push(ul ? ul[1] : ol[2]);
        continue;
      }
      if (list && /^\s{2,}\S/.test(line)) {
        list.items[list.items.length - 1] += '\n' + line.trim();
        continue;
      }
      endList();
      (para = para || []).push(line);
    }
    endPara();
    endList();
    return blocks;
  }

  function appendText(doc, parent, text) {
    var parts = text.split('\n');
    for (var k = 0; k < parts.length; k++) {
      if (k > 0) parent.appendChild(doc.createElement('br'));
      if (parts[k]) parent.appendChild(doc.createTextNode(parts[k]));
    }
  }

  function renderInline(doc, parent, nodes) {
    nodes.forEach(function (n) {
      var el;
      if (n.t === 'text') return appendText(doc, parent, n.v);
      if (n.t === 'code') {
        el = doc.createElement('code');
        el.textContent = n.v;
      } else if (n.t === 'b' || n.t === 'i') {
        el = doc.createElement(n.t === 'b' ? 'strong' : 'em');
        renderInline(doc, el, n.c);
      } else if (n.t === 'a' && safeUrl(n.href)) {
        el = doc.createElement('a');
        el.setAttribute('href', n.href);
        el.setAttribute('target', '_blank');
        el.setAttribute('rel', 'noopener noreferrer nofollow');
        renderInline(doc, el, n.c);
      } else {
        return;
      }
      parent.appendChild(el);
    });
  }

  /** A DocumentFragment for `blocksOrText` (a parse() result or a string). */
  function render(blocksOrText, doc) {
    doc = doc || root.document;
    var blocks = typeof blocksOrText === 'string' ? parse(blocksOrText) : blocksOrText;
    var frag = doc.createDocumentFragment();
    blocks.forEach(function (b) {
      var el;
      if (b.type === 'p') {
        el = doc.createElement('p');
        renderInline(doc, el, b.c);
      } else if (b.type === 'h') {
        el = doc.createElement('h' + Math.min(6, Math.max(3, b.level + 2)));
        renderInline(doc, el, b.c);
      } else if (b.type === 'code') {
        el = doc.createElement('pre');
        var code = doc.createElement('code');
        if (b.lang) code.setAttribute('data-lang', b.lang);
        code.textContent = b.v;
        el.appendChild(code);
      } else if (b.type === 'ul' || b.type === 'ol') {
        el = doc.createElement(b.type);
        if (b.type === 'ol' && b.start !== 1) el.setAttribute('start', String(b.start));
        b.items.forEach(function (item) {
          var li = doc.createElement('li');
          renderInline(doc, li, item);
          el.appendChild(li);
        });
      } else {
        return;
      }
      frag.appendChild(el);
    });
    return frag;
  }

  var api = { parse: parse, parseInline: parseInline, render: render, safeUrl: safeUrl };
  if (typeof module === 'object' && module.exports) module.exports = api;
  else root.ClawflowMarkdown = api;
})(this);
