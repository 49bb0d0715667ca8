// Sends every DogStatsD metric type with the real Node client (hot-shots on npm).
// Usage: node dogstatsd.js <host> <port>
const StatsD = require('hot-shots');
const [host, port] = process.argv.slice(2);
const s = new StatsD({ host, port: Number(port), globalTags: ['client:node'], telemetryFlush: 0, errorHandler: (e) => { console.error(e); process.exit(1); } });
const tags = ['team:eco'];
s.gauge('eco.js.gauge', 12.5, tags);
s.increment('eco.js.count', 4, tags);
s.decrement('eco.js.count', 1, tags);
for (const v of [5, 15, 25]) { s.histogram('eco.js.hist', v, tags); s.timing('eco.js.timing', v, tags); }
for (const v of [1, 2, 3]) s.distribution('eco.js.dist', v, tags);
for (const u of ['ann', 'bob', 'cid', 'ann']) s.set('eco.js.set', u, tags);
s.event('eco js event', 'text of the event', { alert_type: 'info' }, tags);
s.check('eco.js.check', s.CHECKS.CRITICAL, { message: 'down' }, tags);
s.close((err) => { if (err) { console.error(err); process.exit(1); } console.log('sent'); });
