/* The dashboard page's script, served as /dashboard/dashboard.js: plain browser JavaScript (no build step), reading only the public report API. Panels come from dashboard-panels.ts. */
export const DASHBOARD_SCRIPT_SOURCE = String.raw`(function () {
  'use strict';
  var API = '/api/v1/analytics';
  var PANELS = window.__PANELS__;
  var RANGES = { '1h': 3600e3, '6h': 6 * 3600e3, '24h': 24 * 3600e3, '7d': 7 * 24 * 3600e3 };
  var SERIES_COLORS = ['#2f6fde', '#e07b18', '#b8327a', '#1a9c6b'];
  var state = { key: null, tenant: null, token: null, source: null, lastEventId: null, live: null };
  var charts = {};
  var $ = function (id) { return document.getElementById(id); };

  // Reports: at most two at a time (the tenant's report concurrency), a 429 retried after Retry-After.
  var running = 0;
  var waiting = [];
  function report(path, body) {
    return new Promise(function (resolve, reject) {
      waiting.push({ path: path, body: body, resolve: resolve, reject: reject, tries: 0 });
      pump();
    });
  }
  function pump() {
    while (running < 2 && waiting.length) run(waiting.shift());
  }
  function run(job) {
    running++;
    fetch(API + job.path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ' + state.key },
      body: JSON.stringify(job.body),
    }).then(function (res) {
      return res.json().then(function (json) {
        running--;
        if (res.status === 429 && job.tries++ < 20) {
          var wait = Number(res.headers.get('retry-after') || '1') * 1000;
          setTimeout(function () { waiting.unshift(job); pump(); }, Math.min(wait, 1000));
        } else if (res.ok) job.resolve(json);
        else job.reject(new Error(json.detail || ('HTTP ' + res.status)));
        pump();
      });
    }, function (err) {
      running--;
      job.reject(err);
      pump();
    });
  }

  function scope() {
    var to = new Date();
    var from = new Date(to.getTime() - RANGES[$('range').value]);
    var s = { tenantId: state.tenant, from: from.toISOString(), to: to.toISOString() };
    var site = $('site').value.trim();
    if (site) s.site_id = site;
    if ($('source').value) s.source = $('source').value;
    return s;
  }

  function format(value, unit) {
    if (value === null || value === undefined) return '–';
    if (unit === 'ratio') return (value * 100).toFixed(1) + ' %';
    if (unit === 'ms') return value.toFixed(0) + ' ms';
    if (unit === 'count') return String(Math.round(value));
    return value.toFixed(2);
  }

  function panelElement(spec) {
    var el = document.createElement('section');
    el.className = 'panel panel-' + spec.kind;
    el.id = 'panel-' + spec.id;
    el.setAttribute('data-panel', spec.id);
    el.setAttribute('data-state', 'loading');
    var h = document.createElement('h2');
    h.textContent = spec.title;
    var stat = document.createElement('div');
    stat.className = 'stat';
    var chart = document.createElement('div');
    chart.className = 'chart';
    var note = document.createElement('p');
    note.className = 'note';
    el.appendChild(h);
    el.appendChild(stat);
    el.appendChild(chart);
    el.appendChild(note);
    return el;
  }

  function setState(spec, st, text) {
    var el = $('panel-' + spec.id);
    el.setAttribute('data-state', st);
    el.querySelector('.note').textContent = text || '';
  }

  function drawChart(spec, xs, ys, labels) {
    var el = $('panel-' + spec.id).querySelector('.chart');
    if (charts[spec.id]) charts[spec.id].destroy();
    el.textContent = '';
    var series = [{}];
    labels.forEach(function (label, i) {
      series.push({ label: label, stroke: SERIES_COLORS[i % SERIES_COLORS.length], width: 2, spanGaps: true, points: { show: xs.length < 60 } });
    });
    charts[spec.id] = new uPlot({
      width: Math.max(280, el.clientWidth || 360),
      height: 170,
      series: series,
      legend: { show: labels.length > 1 },
      axes: [{}, { size: 56 }],
      scales: { x: { time: true } },
    }, [xs].concat(ys), el);
  }

  // A labelled horizontal bar filled to a fraction of its width, with its figures beside it (funnel steps, waterfall stages).
  function barRow(className, text, fraction, figures) {
    var row = document.createElement('div');
    row.className = className;
    var label = document.createElement('span');
    label.className = 'funnel-label';
    label.textContent = text;
    var bar = document.createElement('span');
    bar.className = 'funnel-bar';
    var fill = document.createElement('span');
    fill.className = 'funnel-fill';
    fill.style.width = Math.round(fraction * 100) + '%';
    bar.appendChild(fill);
    var count = document.createElement('span');
    count.className = 'funnel-count';
    count.textContent = figures;
    row.appendChild(label);
    row.appendChild(bar);
    row.appendChild(count);
    return row;
  }

  // One renderer per panel kind.
  var RENDERERS = {
    series: function (spec) {
      var s = scope();
      var grain = $('grain').value;
      var summary = report('/reports/summary', Object.assign({ metrics: spec.metrics }, s));
      var series = Promise.all(spec.metrics.map(function (m) {
        return report('/reports/timeseries', Object.assign({ metric: m, grain: grain }, s));
      }));
      return Promise.all([summary, series]).then(function (r) {
        var sum = r[0];
        var answers = r[1];
        var stat = $('panel-' + spec.id).querySelector('.stat');
        stat.textContent = spec.metrics.map(function (m) {
          var short = m.split('.').pop();
          return (spec.metrics.length > 1 ? short + ' ' : '') + format(sum.metrics[m].value, spec.unit);
        }).join('  ·  ');
        var xs = answers[0].points.map(function (p) { return Date.parse(p.t) / 1000; });
        var ys = answers.map(function (a) { return a.points.map(function (p) { return p.value; }); });
        var withData = ys[0].filter(function (v) { return v !== null && v !== 0; }).length;
        $('panel-' + spec.id).setAttribute('data-points', String(withData));
        $('panel-' + spec.id).setAttribute('data-value', String(sum.metrics[spec.metrics[0]].value));
        drawChart(spec, xs, ys, spec.metrics.map(function (m) { return m.split('.').pop(); }));
      });
    },
    funnel: function (spec) {
      // A funnel has no site or source filter: the pickers select a group of a breakdown by them instead.
      var s = scope();
      var by = [];
      var want = [];
      if (s.site_id) { by.push('site_id'); want.push(s.site_id.toLowerCase()); delete s.site_id; }
      if (s.source) { by.push('source'); want.push(s.source); delete s.source; }
      var body = Object.assign({ steps: spec.steps, window_seconds: spec.windowSeconds }, s);
      if (by.length) { body.breakdown = by; body.breakdown_limit = 50; }
      return report('/reports/funnel', body).then(function (answer) {
        var f = answer;
        if (by.length) {
          var group = (answer.breakdown.groups || []).filter(function (g) {
            return !g.other && JSON.stringify(g.values) === JSON.stringify(want);
          })[0];
          f = group || { steps: answer.steps.map(function (st) { return Object.assign({}, st, { units: 0, conversion_from_first: null }); }) };
        }
        var el = $('panel-' + spec.id);
        var chart = el.querySelector('.chart');
        chart.textContent = '';
        var first = f.steps[0].units || 1;
        f.steps.forEach(function (step) {
          chart.appendChild(barRow('funnel-step', step.event, step.units / first,
            step.units + (step.conversion_from_first === null ? '' : ' (' + format(step.conversion_from_first, 'ratio') + ')')));
        });
        var last = f.steps[f.steps.length - 1];
        el.querySelector('.stat').textContent = 'converted ' + format(last.conversion_from_first, 'ratio');
        el.setAttribute('data-points', String(f.steps[0].units));
      });
    },
    waterfall: function (spec) {
      // One bar per stage, as long as its p95 against the slowest stage's; p50, p95 and the share of end to end beside it.
      return report('/reports/waterfall', scope()).then(function (answer) {
        var el = $('panel-' + spec.id);
        var chart = el.querySelector('.chart');
        chart.textContent = '';
        var longest = Math.max.apply(null, answer.stages.map(function (st) { return st.p95; }).concat([1]));
        answer.stages.forEach(function (stage) {
          chart.appendChild(barRow('funnel-step waterfall-stage', stage.stage, stage.p95 / longest,
            format(stage.p50, 'ms') + ' / ' + format(stage.p95, 'ms') +
              (stage.share_of_e2e === null || stage.stage === 'e2e' ? '' : ' (' + format(stage.share_of_e2e, 'ratio') + ')')));
        });
        el.querySelector('.stat').textContent = answer.turns + ' turns';
        el.setAttribute('data-points', String(answer.stages.length));
        el.setAttribute('data-value', String(answer.turns));
      });
    },
    live: function (spec) {
      openStream();
      drawLive(spec);
      return Promise.resolve();
    },
  };

  // The live panel: events the worker folded, per second, from the stream.
  var liveSeconds = [];
  var liveTotal = 0;
  function countLive(events) {
    var now = Math.floor(Date.now() / 1000);
    var last = liveSeconds[liveSeconds.length - 1];
    if (last && last[0] === now) last[1] += events;
    else liveSeconds.push([now, events]);
    liveTotal += events;
  }
  function drawLive(spec) {
    var now = Math.floor(Date.now() / 1000);
    var xs = [];
    var ys = [];
    var byS = {};
    liveSeconds.forEach(function (p) { byS[p[0]] = p[1]; });
    for (var t = now - 59; t <= now; t++) { xs.push(t); ys.push(byS[t] || 0); }
    while (liveSeconds.length && liveSeconds[0][0] < now - 60) liveSeconds.shift();
    var el = $('panel-' + spec.id);
    var rate = (byS[now] || 0) + (byS[now - 1] || 0);
    el.querySelector('.stat').textContent = Math.round(rate / 2) + ' events/s  ·  ' + liveTotal + ' since opened';
    el.setAttribute('data-total', String(liveTotal));
    if (charts[spec.id]) charts[spec.id].setData([xs, ys]);
    else drawChart(spec, xs, [ys], ['events/s']);
  }

  function streamUrl() {
    var q = ['token=' + encodeURIComponent(state.token)];
    var site = $('site').value.trim();
    if (site) q.push('site_id=' + encodeURIComponent(site));
    if ($('source').value) q.push('source=' + encodeURIComponent($('source').value));
    if (state.lastEventId) q.push('last_event_id=' + encodeURIComponent(state.lastEventId));
    return API + '/reports/live?' + q.join('&');
  }
  function openStream() {
    if (state.live) state.live.close();
    var src = new EventSource(streamUrl());
    state.live = src;
    src.addEventListener('open', function () { setState(livePanel(), 'ready'); });
    src.addEventListener('fold', function (e) {
      state.lastEventId = e.lastEventId;
      var fold = JSON.parse(e.data);
      countLive(fold.events);
      drawLive(livePanel());
      refreshSoon(fold.buckets);
    });
    src.addEventListener('error', function () {
      // Closed by the server (restart, a token past its time, too slow): a new token, then resume after the last id.
      if (src.readyState !== EventSource.CLOSED) return;
      setTimeout(function () { token().then(openStream, function () {}); }, 1000);
    });
  }
  function livePanel() {
    return PANELS.filter(function (p) { return p.kind === 'live'; })[0];
  }

  // Panels whose metrics a fold changed are read again, at most every 3 s each.
  var refreshAt = {};
  function refreshSoon(buckets) {
    var changed = {};
    buckets.forEach(function (b) { changed[b.metric] = true; });
    PANELS.forEach(function (spec) {
      if (spec.kind !== 'series') return;
      var hit = spec.metrics.some(function (m) { return changed[m.replace(/\.p\d+$/, '')]; });
      if (!hit || refreshAt[spec.id]) return;
      refreshAt[spec.id] = setTimeout(function () {
        refreshAt[spec.id] = null;
        render(spec);
      }, 3000);
    });
  }
  setInterval(function () { var spec = livePanel(); if (spec && state.token) drawLive(spec); }, 1000);

  function render(spec) {
    var query = $('range').value + '|' + $('grain').value + '|' + $('site').value.trim() + '|' + $('source').value;
    if (spec.kind !== 'live') setState(spec, 'loading');
    return RENDERERS[spec.kind](spec).then(function () {
      $('panel-' + spec.id).setAttribute('data-query', query);
      if (spec.kind !== 'live') setState(spec, 'ready');
    }, function (err) {
      setState(spec, 'error', String(err.message || err));
    });
  }

  function renderAll() {
    PANELS.forEach(function (spec) { render(spec); });
  }

  function token() {
    return fetch(API + '/reports/live/token', { method: 'POST', headers: { authorization: 'Bearer ' + state.key } })
      .then(function (res) {
        return res.json().then(function (json) {
          if (!res.ok) throw new Error(json.detail || ('HTTP ' + res.status));
          state.token = json.token;
          state.tenant = json.tenant_id;
          return json;
        });
      });
  }

  function start() {
    $('login').hidden = true;
    $('controls').hidden = false;
    $('tenant').textContent = 'tenant ' + state.tenant;
    var grid = $('panels');
    grid.textContent = '';
    PANELS.forEach(function (spec) { grid.appendChild(panelElement(spec)); });
    renderAll();
  }

  function signIn(key) {
    state.key = key;
    return token().then(function () {
      // Kept for this tab only: sessionStorage ends with the tab, and nothing is written elsewhere.
      sessionStorage.setItem('analytics.reportKey', key);
      start();
    }, function (err) {
      state.key = null;
      sessionStorage.removeItem('analytics.reportKey');
      $('login-error').textContent = String(err.message || err);
    });
  }

  $('login').addEventListener('submit', function (e) {
    e.preventDefault();
    signIn($('key').value.trim());
    $('key').value = '';
  });
  ['range', 'grain', 'source'].forEach(function (id) {
    $(id).addEventListener('change', function () {
      state.lastEventId = null;
      renderAll();
    });
  });
  $('site').addEventListener('change', function () {
    state.lastEventId = null;
    renderAll();
  });
  var kept = sessionStorage.getItem('analytics.reportKey');
  if (kept) signIn(kept);
})();
`;
