// Types for every operation in src/, generated from the server's committed
// schema (`cargo run -- schema > schema.graphql` writes it). Run `npm run
// codegen` after changing either; `npm run codegen:check` fails when the
// generated files are stale (the Rust suite runs it).
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: ["src/**/*.ts", "!src/gql/**"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        // Documents as typed strings: sent with fetch and graphql-ws as they
        // are, no GraphQL AST shipped to the browser.
        documentMode: "string",
        enumsAsTypes: true,
        useTypeImports: true,
        strictScalars: true,
        scalars: { Date: "string", DateTime: "string", JSON: "unknown" },
      },
    },
  },
};

export default config;
