// Measures a report page as laid out by the browser, and writes what it found into
// <pre id="isoscope-measure"> as JSON (tests/browser.rs reads it back from --dump-dom).
(function () {
  const out = { height: 0, overflow: [], overlaps: [], broken_links: [], bad_cells: [], empty_timelines: [] };
  const vw = document.documentElement.clientWidth;
  out.height = document.documentElement.scrollHeight;
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : '');
  // Past the right edge: an element whose box ends beyond the viewport, unless a scrolling or
  // clipping ancestor that itself fits holds it.
  for (const e of document.body.querySelectorAll('*')) {
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.right <= vw + 1) continue;
    let held = false;
    for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
      const ox = getComputedStyle(p).overflowX;
      if (ox !== 'visible' && p.getBoundingClientRect().right <= vw + 1) { held = true; break; }
    }
    if (!held) out.overflow.push(name(e) + ' right=' + Math.round(r.right) + ' > ' + vw);
  }
  // No two text labels of a cycle drawing overlap.
  for (const svg of document.querySelectorAll('svg.cycle')) {
    const boxes = [...svg.querySelectorAll('text')].map((t) => [t.textContent, t.getBoundingClientRect()]);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, ra] = boxes[i], [b, rb] = boxes[j];
        if (ra.width === 0 || rb.width === 0) continue;
        const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
        const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
        if (w > 0.5 && h > 0.5) out.overlaps.push(a + ' / ' + b);
      }
    }
  }
  // Every # link resolves.
  for (const a of document.querySelectorAll('a[href^="#"]')) {
    const id = decodeURIComponent(a.getAttribute('href').slice(1));
    if (!document.getElementById(id)) out.broken_links.push(a.getAttribute('href'));
  }
  // Every invalid cell names and links each reason (its legend entry and its evidence).
  for (const td of document.querySelectorAll('table.matrix td.invalid-bg')) {
    const reasons = td.querySelectorAll('.reason');
    if (reasons.length === 0) { out.bad_cells.push('no reason: ' + td.textContent.slice(0, 80)); continue; }
    for (const r of reasons) {
      const links = [...r.querySelectorAll('a[href^="#"]')];
      if (links.length < 2) out.bad_cells.push('reason not linked to legend and evidence: ' + r.textContent.slice(0, 80));
    }
  }
  // No example timeline without columns: a time column and at least one session.
  for (const t of document.querySelectorAll('section.example .timeline')) {
    if (t.querySelectorAll('.tl-head').length < 2) out.empty_timelines.push(t.closest('section').id);
  }
  const pre = document.createElement('pre');
  pre.id = 'isoscope-measure';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
