// ESLint flat config: typescript-eslint's type-checked recommendations, plus the rules this
// codebase relies on (no floating promises: a dropped promise is a lost error or an orphan process).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'bench/results/', 'src/dashboard/assets/**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Methods of async interfaces (TaskSource, tools) are async by contract even when one implementation needs no await.
      '@typescript-eslint/require-await': 'off',
      // The guard's option parser returns its denial by throwing a Deny value (a decision, not a failure); nothing else throws non-errors.
      '@typescript-eslint/only-throw-error': ['error', { allow: [{ from: 'file', name: 'Deny' }] }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true, allowNever: true },
      ],
    },
  },
);
