// ESLint flat config: typescript-eslint's type-checked recommended rules for all TypeScript, with the type
// information of the nearest tsconfig (the root one, or webview/tsconfig.json for browser code).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["dist/", "out/", "test-output/", ".e2e/", "node_modules/", "native-patches/", "test/e2e/fixtures/", "scripts/demo/workspace/"] },
    js.configs.recommended,
    tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
        rules: {
            // Template literals with numbers are routine in log lines.
            "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
            // node:test's test()/describe() return promises that the runner itself awaits.
            "@typescript-eslint/no-floating-promises": ["error", {
                allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["test", "it", "describe", "suite"] }],
            }],
        },
    },
    {
        files: ["**/*.mjs"],
        extends: [tseslint.configs.disableTypeChecked],
        languageOptions: { globals: { console: "readonly", process: "readonly" } },
    },
);
