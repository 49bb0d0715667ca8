// Creates a small trace with the real Node tracer (dd-trace on npm): PUT /v0.4/traces.
// The agent URL comes from DD_TRACE_AGENT_URL. Node exits once the request is answered.
const tracer = require('dd-trace').init({ flushInterval: 0, startupLogs: false, plugins: false });
tracer.trace('eco.request', { service: 'eco-js', resource: 'GET /carts' }, (root) => {
  root.setTag('customer', 'acme');
  tracer.trace('eco.cache', { service: 'eco-js-cache', resource: 'GET cart:1' }, (child) => { child.setTag('cache.hit', 'true'); });
  try { tracer.trace('eco.fail', { resource: 'boom' }, () => { throw new Error('expected failure'); }); } catch (e) { /* recorded on the span */ }
  console.log(root.context().toTraceId(), root.context().toSpanId());
});
