// Mocha's spec reporter, plus a JSON summary of the counts for `npm test`'s final total line.
const fs = require('node:fs');
const Mocha = require('mocha');

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const failures = [];
    runner.on('fail', (test, err) => failures.push({ title: test.fullTitle(), error: String(err && err.message) }));
    runner.once('end', () => {
      const file = process.env.KVLAB_MOCHA_SUMMARY;
      if (!file) return;
      const { passes, failures: failed, pending, tests } = this.stats;
      fs.writeFileSync(file, JSON.stringify({ passes, failures: failed, pending, tests, failed: failures }, null, 2));
    });
  }
}

module.exports = SummaryReporter;
