import assert from "node:assert/strict";
import { test } from "node:test";
import { nextStepFits } from "../../src/engine/evaluator/decodeBudget.js";

test("decode budget: a step starts only if, at the pace so far, it ends within the budget", () => {
    // the first step has no pace to go by: it starts while the budget is not spent
    assert.equal(nextStepFits(0, 0, 500), true);
    assert.equal(nextStepFits(501, 0, 500), false);
    // 8 steps of 55 ms: 440 ms spent, the next would end at 495 (fits) or, after 9, at 550 (does not)
    assert.equal(nextStepFits(440, 8, 500), true);
    assert.equal(nextStepFits(495, 9, 500), false);
});
