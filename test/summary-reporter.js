// Prints the plain closing line CI reads ("N passed, N failed"), after Jest's own summary, and before it
// each suite's wall time, slowest first: the numbers to look at when the suite's time grows (the CI limit
// is 20 minutes on two cores, and the tail of a run is set by the longest suites started last).
export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const suites = results.testResults
      .map((suite) => ({
        seconds: (suite.perfStats.end - suite.perfStats.start) / 1000,
        path: suite.testFilePath.replace(`${process.cwd()}/`, ''),
      }))
      .sort((a, b) => b.seconds - a.seconds);
    console.log('\nsuite seconds (slowest first):');
    for (const suite of suites) console.log(`${suite.seconds.toFixed(1).padStart(8)}  ${suite.path}`);
    const total = suites.reduce((sum, suite) => sum + suite.seconds, 0);
    console.log(`${total.toFixed(1).padStart(8)}  total (sum over suites)`);
    console.log(`\ntests: ${results.numPassedTests} passed, ${results.numFailedTests} failed`);
  }
}
