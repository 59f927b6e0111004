import type { CodegenConfig } from "@graphql-codegen/cli";

// Operation types come from the committed API contract; nothing is written by hand.
const config: CodegenConfig = {
  schema: "../schema.graphql",
  documents: ["src/**/*.{ts,tsx}", "!src/gql/**/*"],
  ignoreNoDocuments: true,
  silent: true,
  generates: {
    "src/gql/": {
      preset: "client",
      // Apollo Client 4 has its own data masking; the colocated fragments give the types.
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        strictScalars: true,
        scalars: { DateTime: "string" },
        skipTypename: false,
        nonOptionalTypename: true,
        avoidOptionals: { field: true, inputValue: false, object: true, defaultValue: false },
      },
    },
  },
};

export default config;
