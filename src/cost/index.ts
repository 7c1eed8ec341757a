export { addTally, formatTokens, tallyTokens, zeroTally, type TokenTally } from './tokens.js';
export { costOf, defaultPricesFile, formatUsd, loadPrices, priceOf, type ModelPrice, type PriceTable } from './prices.js';
export { priceRunUsage, type RunUsage, type UsageInput, type UsagePart, type WorkerUsagePart } from './run-usage.js';
