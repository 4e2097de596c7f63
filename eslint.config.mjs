// Lint and format as Effect's own repository does: typescript-eslint's recommended rules and
// @effect/eslint-plugin's dprint rule (2 spaces, no semicolons, double quotes, lines up to 120).
import effect from "@effect/eslint-plugin"
import tseslint from "typescript-eslint"

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "node_modules/**",
      "bench/results/**",
      "test/.jsdoc-*/**",
      "effect4/dist/**",
      "effect4/node_modules/**",
      // the shared core, linted once where it lives (src/internal/core)
      "effect4/src/internal/core/**",
      // the chat page's bundle (built by examples/page.ts, minified), and the public/ folder the Effect 4
      // examples link to (linted once where it lives)
      "examples/public/*.bundle.js",
      "examples/public/*.tmp",
      "effect4/examples/public/**"
    ]
  },
  ...tseslint.configs.recommended,
  {
    plugins: { "@effect": effect },
    rules: {
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }],
      "@typescript-eslint/no-explicit-any": "off",
      // as in Effect: \`interface X extends Y {}\` names a type, and a class merges with its interface (Pipeable)
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/no-unsafe-declaration-merging": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error"
    }
  },
  // ARCHITECTURE.md: only the Node driver touches `ws` and `node:*` (types excepted, for the public
  // NodeServer's signatures), and only compat files reach past a dependency's public API
  {
    files: ["src/**/*.ts"],
    ignores: ["src/internal/node/**"],
    rules: {
      "no-restricted-imports": ["error", {
        paths: [{ name: "ws", message: "only src/internal/node/ imports ws" }],
        patterns: [{ group: ["node:*"], allowTypeImports: true, message: "only src/internal/node/ imports node:*" }]
      }]
    }
  },
  {
    files: ["src/**/*.ts", "effect4/src/**/*.ts"],
    ignores: ["src/internal/**/compat/**", "effect4/src/internal/**/compat/**"],
    rules: {
      "no-restricted-syntax": ["error", {
        selector: "MemberExpression[property.name='locals']",
        message: "FiberRefs' private locals: use FiberRefs' public functions or a compat file"
      }, {
        selector: "Identifier[name='updateRefs']",
        message: "runFork's updateRefs with module state read inside it: set fiber refs on the runtime instead"
      }, {
        selector: "MemberExpression[object.name='Scope'][property.name=/ScopeTypeId$/]",
        message: "a hand-made Scope: use Scope.make()"
      }, {
        selector: "MemberExpression[object.name='FiberRefs'][property.name=/^unsafe/]",
        message: "FiberRefs' unsafe internals: use its public functions"
      }]
    }
  },
  // the core is shared by both Effect lines: no Effect, no platform, no sockets, nothing outside it
  {
    files: ["src/internal/core/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [{
          group: ["effect", "effect/*", "@effect/*", "ws", "node:*", "../*", "!./*"],
          message: "src/internal/core/ imports nothing but itself: no Effect, no platform, no sockets"
        }]
      }]
    }
  },
  // the Effect 4 line: HTTP is effect/http/*; @effect/platform would resolve the root's Effect 3 copy
  {
    files: ["effect4/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        paths: [{ name: "@effect/platform", message: "Effect 4: import from effect/http/* (this is Effect 3's)" }],
        patterns: [{ group: ["@effect/platform/*"], message: "Effect 4: import from effect/http/* (this is Effect 3's)" }]
      }]
    }
  },
  {
    files: ["effect4/src/**/*.ts"],
    ignores: ["effect4/src/internal/node/**"],
    rules: {
      "no-restricted-imports": ["error", {
        paths: [
          { name: "ws", message: "only effect4/src/internal/node/ imports ws" },
          { name: "@effect/platform", message: "Effect 4: import from effect/http/* (this is Effect 3's)" }
        ],
        patterns: [
          { group: ["node:*"], allowTypeImports: true, message: "only effect4/src/internal/node/ imports node:*" },
          { group: ["@effect/platform/*"], message: "Effect 4: import from effect/http/* (this is Effect 3's)" }
        ]
      }]
    }
  }
)
