/**
 * GET /docs: one self-contained HTML page that renders the OpenAPI document in the browser. The document
 * is embedded in the page and the script and styles are inline, so it loads nothing else: it works
 * offline, behind a firewall and under the strict Content-Security-Policy of docs.routes.ts.
 */

/** Renders the page for `document` (an OpenAPI 3.1 document as built by openapi.ts). */
export function renderDocsPage(document: Record<string, unknown>): string {
  const info = (document.info ?? {}) as { title?: string; version?: string };
  const title = `${info.title ?? 'API'} ${info.version ?? ''}`.trim();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<nav id="nav"><input id="filter" type="search" placeholder="Filter operations" aria-label="Filter operations"><div id="toc"></div></nav>
<main id="main"><noscript><p>This page needs JavaScript; the raw document is at <a href="/openapi.json">/openapi.json</a>.</p></noscript></main>
<script type="application/json" id="openapi-document">${embedJson(document)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON inside a script element: `<` escaped so no string in it can close the element. */
function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const STYLE = `
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #fff; --side: #f6f8fa; --code: #eff2f5; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); display: flex; }
nav { position: sticky; top: 0; height: 100vh; overflow: auto; width: 300px; flex: none; background: var(--side); border-right: 1px solid var(--line); padding: 12px; }
nav input { width: 100%; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
nav h4 { margin: 14px 0 4px; font-size: 12px; text-transform: uppercase; color: var(--muted); }
nav a { display: block; padding: 2px 4px; color: inherit; text-decoration: none; border-radius: 4px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
nav a:hover { background: var(--code); }
main { flex: 1; min-width: 0; padding: 16px 32px 64px; max-width: 1100px; }
h1 { margin: 0 0 4px; } h2 { margin: 32px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--code); padding: 1px 4px; border-radius: 4px; }
.op { border: 1px solid var(--line); border-radius: 8px; margin: 16px 0; padding: 12px 16px; }
.op h3 { margin: 0; font-size: 16px; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.op h3 code { background: none; font-size: 15px; padding: 0; }
.method { font: bold 12px ui-monospace, monospace; color: #fff; border-radius: 4px; padding: 2px 6px; min-width: 56px; text-align: center; }
.get { background: #0969da; } .post { background: #1a7f37; } .patch { background: #bc4c00; } .delete { background: #cf222e; } .put { background: #8250df; }
.summary { color: var(--muted); font-weight: normal; }
.op h5 { margin: 12px 0 4px; font-size: 13px; }
table { border-collapse: collapse; width: 100%; margin: 4px 0; }
th, td { text-align: left; vertical-align: top; border-top: 1px solid var(--line); padding: 4px 8px; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
td table { margin-top: 6px; }
.req { color: #cf222e; font-size: 11px; }
.muted { color: var(--muted); font-size: 12.5px; }
.status { font-weight: 600; white-space: nowrap; }
.s2 { color: #1a7f37; } .s4 { color: #bc4c00; } .s5 { color: #cf222e; }
details summary { cursor: pointer; color: #0969da; }
.hidden { display: none; }
`;

/*
 * The renderer, run in the browser. Plain ES5-ish JavaScript in a raw string: no backticks and no
 * template placeholders inside it (`\\x60` stands for a backtick).
 */
const SCRIPT = String.raw`
(function () {
  'use strict';
  var doc = JSON.parse(document.getElementById('openapi-document').textContent);
  var components = doc.components || {};
  var schemas = components.schemas || {};
  var schemes = components.securitySchemes || {};
  var SAFE_INT = 9007199254740991;

  function esc(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function md(text) { return esc(text || '').replace(/\x60([^\x60]+)\x60/g, '<code>$1</code>'); }
  function refName(ref) { return ref.split('/').pop(); }
  function resolve(schema) { return schema && schema.$ref ? schemas[refName(schema.$ref)] || {} : schema || {}; }
  function anchor(kind, name) { return kind + '-' + String(name).replace(/[^\w-]/g, '_'); }
  function schemaLink(ref) { var name = refName(ref); return '<a href="#' + anchor('schema', name) + '">' + esc(name) + '</a>'; }

  function typeLabel(s) {
    if (!s || Object.keys(s).length === 0) return 'any';
    if (s.$ref) return schemaLink(s.$ref);
    if (s.const !== undefined) return '<code>' + esc(JSON.stringify(s.const)) + '</code>';
    if (s.enum) return s.enum.map(function (v) { return '<code>' + esc(JSON.stringify(v)) + '</code>'; }).join(' | ');
    if (s.anyOf || s.oneOf) return (s.anyOf || s.oneOf).map(typeLabel).join(' | ');
    var types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
    var label = types.map(function (t) {
      if (t === 'array') return 'array&lt;' + typeLabel(s.items) + '&gt;';
      if (t === 'object' && !s.properties && s.additionalProperties && typeof s.additionalProperties === 'object') {
        return 'map&lt;string, ' + typeLabel(s.additionalProperties) + '&gt;';
      }
      if (t === 'string' && s.format) return 'string&lt;' + esc(s.format) + '&gt;';
      return esc(t);
    }).join(' | ');
    return label || 'any';
  }

  function constraints(s) {
    var out = [];
    var words = { minLength: 'min length', maxLength: 'max length', minimum: '&ge;', maximum: '&le;', exclusiveMinimum: '&gt;',
      exclusiveMaximum: '&lt;', minItems: 'min items', maxItems: 'max items' };
    Object.keys(words).forEach(function (key) {
      if (typeof s[key] === 'number' && Math.abs(s[key]) !== SAFE_INT) out.push(words[key] + ' ' + s[key]);
    });
    if (s.pattern && !s.format) out.push('pattern <code>' + esc(s.pattern) + '</code>');
    if (s.default !== undefined) out.push('default <code>' + esc(JSON.stringify(s.default)) + '</code>');
    return out.join(', ');
  }

  function nestedObject(s) {
    if (!s) return null;
    if (s.properties) return s;
    if (s.items && s.items.properties) return s.items;
    var members = s.anyOf || s.oneOf || [];
    for (var i = 0; i < members.length; i++) if (members[i].properties) return members[i];
    return null;
  }

  function objectTable(s) {
    var props = s.properties || {};
    var required = s.required || [];
    var rows = Object.keys(props).map(function (name) {
      var p = props[name];
      var nested = nestedObject(p);
      var rules = constraints(p);
      return '<tr><td><code>' + esc(name) + '</code>' + (required.indexOf(name) >= 0 ? ' <span class="req">required</span>' : '') +
        '</td><td>' + typeLabel(p) + '</td><td>' + md(p.description) + (rules ? '<div class="muted">' + rules + '</div>' : '') +
        (nested ? objectTable(nested) : '') + '</td></tr>';
    }).join('');
    var note = s.additionalProperties === false ? 'No other fields are accepted.'
      : s.additionalProperties && s.properties && Object.keys(s.additionalProperties).length === 0 ? 'Other fields are accepted.' : '';
    return (rows ? '<table><thead><tr><th>Field</th><th>Type</th><th>Notes</th></tr></thead><tbody>' + rows + '</tbody></table>' : '') +
      (note ? '<div class="muted">' + note + '</div>' : '');
  }

  function schemaBlock(s, open) {
    var target = resolve(s);
    var head = s.$ref ? schemaLink(s.$ref) : typeLabel(s);
    if (!target.properties) return head;
    return '<details' + (open ? ' open' : '') + '><summary>' + head + '</summary>' + objectTable(target) + '</details>';
  }

  function securityText(op) {
    if (!op.security || op.security.length === 0) return 'none';
    return op.security.map(function (requirement) {
      return Object.keys(requirement).map(function (name) {
        var scheme = schemes[name] || {};
        var how = scheme.type === 'http' ? 'Authorization: Bearer' : scheme.type === 'apiKey' ? scheme.name + ' header' : scheme.type;
        return '<code>' + esc(how) + '</code> (' + esc(name) + ')';
      }).join(' + ');
    }).join(' or ');
  }

  function parametersTable(params) {
    return '<table><thead><tr><th>Name</th><th>In</th><th>Type</th><th>Notes</th></tr></thead><tbody>' + params.map(function (p) {
      var rules = constraints(p.schema || {});
      return '<tr><td><code>' + esc(p.name) + '</code>' + (p.required ? ' <span class="req">required</span>' : '') + '</td><td>' + esc(p.in) +
        '</td><td>' + typeLabel(p.schema) + '</td><td>' + md(p.description) + (rules ? '<div class="muted">' + rules + '</div>' : '') + '</td></tr>';
    }).join('') + '</tbody></table>';
  }

  function responsesTable(responses) {
    return '<table><thead><tr><th>Status</th><th>Meaning</th><th>Body</th></tr></thead><tbody>' + Object.keys(responses).map(function (status) {
      var r = responses[status];
      var content = r.content || {};
      var bodies = Object.keys(content).map(function (type) {
        var schema = content[type].schema || {};
        var isError = schema.$ref && /\/Error$/.test(schema.$ref);
        return '<div><code>' + esc(type) + '</code> ' + (isError ? schemaLink(schema.$ref) : schemaBlock(schema, false)) + '</div>';
      }).join('');
      return '<tr><td class="status s' + esc(status.charAt(0)) + '">' + esc(status) + '</td><td>' + md(r.description) + '</td><td>' + bodies + '</td></tr>';
    }).join('') + '</tbody></table>';
  }

  function operationHtml(method, path, op) {
    var html = '<section class="op" id="' + anchor('op', op.operationId || method + path) + '" data-search="' +
      esc((method + ' ' + path + ' ' + (op.summary || '') + ' ' + (op.tags || []).join(' ')).toLowerCase()) + '">';
    html += '<h3><span class="method ' + esc(method) + '">' + esc(method.toUpperCase()) + '</span><code>' + esc(path) + '</code>' +
      '<span class="summary">' + md(op.summary) + '</span></h3>';
    if (op.description) html += '<p>' + md(op.description) + '</p>';
    html += '<div class="muted">Auth: ' + securityText(op) + '</div>';
    if (op.parameters && op.parameters.length) html += '<h5>Parameters</h5>' + parametersTable(op.parameters);
    if (op.requestBody) {
      var body = op.requestBody.content || {};
      html += '<h5>Request body' + (op.requestBody.required ? ' <span class="req">required</span>' : '') + '</h5>' +
        Object.keys(body).map(function (type) { return '<div><code>' + esc(type) + '</code> ' + schemaBlock(body[type].schema || {}, true) + '</div>'; }).join('');
    }
    html += '<h5>Responses</h5>' + responsesTable(op.responses || {});
    return html + '</section>';
  }

  var METHODS = ['get', 'post', 'put', 'patch', 'delete'];
  var byTag = {};
  var tagOrder = (doc.tags || []).map(function (t) { return t.name; });
  Object.keys(doc.paths || {}).forEach(function (path) {
    METHODS.forEach(function (method) {
      var op = doc.paths[path][method];
      if (!op) return;
      var tag = (op.tags && op.tags[0]) || 'Other';
      if (tagOrder.indexOf(tag) < 0) tagOrder.push(tag);
      (byTag[tag] = byTag[tag] || []).push({ method: method, path: path, op: op });
    });
  });

  var info = doc.info || {};
  var main = '<h1>' + esc(info.title || 'API') + ' <span class="muted">' + esc(info.version || '') + ' &middot; OpenAPI ' + esc(doc.openapi) + '</span></h1>' +
    '<p>' + md(info.description) + '</p><p class="muted">The raw document: <a href="/openapi.json">/openapi.json</a></p>';
  var toc = '';
  tagOrder.forEach(function (tag) {
    var entries = byTag[tag] || [];
    if (!entries.length) return;
    main += '<h2 id="' + anchor('tag', tag) + '">' + esc(tag) + '</h2>';
    toc += '<h4>' + esc(tag) + '</h4>';
    entries.forEach(function (e) {
      main += operationHtml(e.method, e.path, e.op);
      toc += '<a href="#' + anchor('op', e.op.operationId || e.method + e.path) + '" data-op="' + anchor('op', e.op.operationId || e.method + e.path) + '">' +
        '<span class="method ' + esc(e.method) + '">' + esc(e.method.toUpperCase()) + '</span> ' + esc(e.path) + '</a>';
    });
  });
  main += '<h2 id="schemas">Schemas</h2>';
  toc += '<h4><a href="#schemas">Schemas</a></h4>';
  Object.keys(schemas).forEach(function (name) {
    main += '<section class="op" id="' + anchor('schema', name) + '"><h3><code>' + esc(name) + '</code></h3>' +
      (schemas[name].description ? '<p>' + md(schemas[name].description) + '</p>' : '') +
      (schemas[name].properties ? objectTable(schemas[name]) : typeLabel(schemas[name])) + '</section>';
  });

  document.getElementById('main').innerHTML = main;
  document.getElementById('toc').innerHTML = toc;
  document.getElementById('filter').addEventListener('input', function (event) {
    var query = event.target.value.trim().toLowerCase();
    Array.prototype.forEach.call(document.querySelectorAll('section.op[data-search]'), function (section) {
      var hidden = query !== '' && section.getAttribute('data-search').indexOf(query) < 0;
      section.classList.toggle('hidden', hidden);
      var link = document.querySelector('nav a[data-op="' + section.id + '"]');
      if (link) link.classList.toggle('hidden', hidden);
    });
  });
  document.body.setAttribute('data-rendered', 'true');
})();
`;
