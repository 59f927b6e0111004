import { useId, useRef, useState } from "react";
import type { FormEvent } from "react";
import { useMutation } from "@apollo/client/react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router";
import { graphql } from "../gql";
import { useAuth } from "../auth";
import { fieldErrors, friendlyMessage } from "../lib/errors";
import type { FieldErrors, UserErrorLike } from "../lib/errors";
import { useFocusFirstError } from "../lib/useFocusFirstError";
import { useTitle } from "../lib/useTitle";
import { endVisit, isUnauthenticated, visitToken } from "../visit";

export const LoginDocument = graphql(`
  mutation Login($username: String!, $password: String!) {
    login(username: $username, password: $password) {
      token
      user {
        id
        username
      }
      errors {
        field
        message
        code
      }
    }
  }
`);

export const RegisterDocument = graphql(`
  mutation Register($username: String!, $email: String!, $password: String!) {
    register(username: $username, email: $email, password: $password) {
      token
      user {
        id
        username
      }
      errors {
        field
        message
        code
      }
    }
  }
`);

export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,64}$/;
export const MIN_PASSWORD = 10;

interface FieldProps {
  id: string;
  name: string;
  label: string;
  type: string;
  value: string;
  onChange(value: string): void;
  error?: string;
  hint?: string;
  autoComplete: string;
}

function Field({ id, name, label, type, value, onChange, error, hint, autoComplete }: FieldProps) {
  const describedBy = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        type={type}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        autoComplete={autoComplete}
        aria-invalid={Boolean(error)}
        aria-describedby={describedBy}
        required
      />
      {hint ? (
        <p className="field-hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p className="field-error" id={`${id}-error`} data-testid={`${name}-error`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

function safeNext(value: string | null): string {
  return value && value.startsWith("/") && !value.startsWith("//") ? value : "/";
}

function AuthShell({ title, children, footer }: { title: string; children: React.ReactNode; footer: React.ReactNode }) {
  return (
    <div className="auth">
      <section className="auth__card" aria-labelledby="auth-title">
        <h1 id="auth-title">{title}</h1>
        {children}
        <p className="auth__footer">{footer}</p>
      </section>
    </div>
  );
}

interface AuthPayload {
  token?: string | null;
  errors: readonly UserErrorLike[];
}

/** What both forms share: where to go afterwards, the errors shown, and the submit outcome. */
function useAuthForm() {
  const { signIn, status } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const [errors, setErrors] = useState<FieldErrors>({});
  const formRef = useRef<HTMLFormElement>(null);
  useFocusFirstError(errors, formRef);

  /** Runs `mutate`; a token signs in and leaves for `next`, errors land next to their fields. */
  const complete = async (mutate: () => Promise<AuthPayload | null | undefined>, failure: string): Promise<void> => {
    try {
      const payload = await mutate();
      if (payload?.token) {
        await signIn(payload.token);
        navigate(next, { replace: true });
      } else {
        setErrors(fieldErrors(payload?.errors ?? [{ field: null, message: failure }]));
      }
    } catch (error) {
      if (visitToken() && isUnauthenticated(error)) {
        endVisit(); // a visit the shop no longer knows: go on without it
        return complete(mutate, failure);
      }
      setErrors({ _: friendlyMessage(error) });
    }
  };

  /** `path` keeping the `next` destination. */
  const linkTo = (path: string) => `${path}${next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}`;

  return { signedIn: status === "signedIn", next, errors, setErrors, complete, linkTo, formRef };
}

function FormError({ id, message }: { id: string; message?: string }) {
  return message ? (
    <p className="notice notice--error" role="alert" id={id} data-testid="form-error" data-error-summary tabIndex={-1}>
      {message}
    </p>
  ) : null;
}

export function LoginPage() {
  const { signedIn, next, errors, setErrors, complete, linkTo, formRef } = useAuthForm();
  const id = useId();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [login, { loading }] = useMutation(LoginDocument);
  useTitle("Sign in");

  if (signedIn) return <Navigate to={next} replace />;

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    if (loading) return;
    const local: FieldErrors = {};
    if (!username.trim()) local["username"] = "Enter your username.";
    if (!password) local["password"] = "Enter your password.";
    setErrors(local);
    if (Object.keys(local).length > 0) return;
    await complete(
      async () => (await login({ variables: { username: username.trim(), password } })).data?.login,
      "We couldn't sign you in.",
    );
  };

  return (
    <AuthShell
      title="Sign in"
      footer={
        <>
          New here? <Link to={linkTo("/register")}>Create an account</Link>
        </>
      }
    >
      <form ref={formRef} onSubmit={onSubmit} noValidate aria-describedby={errors["_"] ? `${id}-form-error` : undefined}>
        <FormError id={`${id}-form-error`} message={errors["_"]} />
        <Field id={`${id}-username`} name="username" label="Username" type="text" value={username} onChange={setUsername} error={errors["username"]} autoComplete="username" />
        <Field id={`${id}-password`} name="password" label="Password" type="password" value={password} onChange={setPassword} error={errors["password"]} autoComplete="current-password" />
        <button type="submit" className="button button--large button--block" aria-disabled={loading}>
          {loading ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </AuthShell>
  );
}

export function RegisterPage() {
  const { signedIn, next, errors, setErrors, complete, linkTo, formRef } = useAuthForm();
  const id = useId();
  const [username, setUsername] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [register, { loading }] = useMutation(RegisterDocument);
  useTitle("Create an account");

  if (signedIn) return <Navigate to={next} replace />;

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    if (loading) return;
    const local: FieldErrors = {};
    if (!USERNAME_PATTERN.test(username.trim())) {
      local["username"] = "Use 3 to 64 letters, digits, dots, dashes or underscores.";
    }
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim())) local["email"] = "Enter a valid email address.";
    if (password.length < MIN_PASSWORD) local["password"] = `Use at least ${MIN_PASSWORD} characters.`;
    setErrors(local);
    if (Object.keys(local).length > 0) return;
    await complete(
      async () =>
        (await register({ variables: { username: username.trim(), email: email.trim(), password } })).data
          ?.register,
      "We couldn't create your account.",
    );
  };

  return (
    <AuthShell
      title="Create an account"
      footer={
        <>
          Already have one? <Link to={linkTo("/login")}>Sign in</Link>
        </>
      }
    >
      <p className="auth__lead">Get picks made for you from what you browse and buy.</p>
      <form ref={formRef} onSubmit={onSubmit} noValidate aria-describedby={errors["_"] ? `${id}-form-error` : undefined}>
        <FormError id={`${id}-form-error`} message={errors["_"]} />
        <Field id={`${id}-username`} name="username" label="Username" type="text" value={username} onChange={setUsername} error={errors["username"]} hint="3 to 64 letters, digits, . _ or -" autoComplete="username" />
        <Field id={`${id}-email`} name="email" label="Email" type="email" value={email} onChange={setEmail} error={errors["email"]} autoComplete="email" />
        <Field id={`${id}-password`} name="password" label="Password" type="password" value={password} onChange={setPassword} error={errors["password"]} hint={`At least ${MIN_PASSWORD} characters`} autoComplete="new-password" />
        <button type="submit" className="button button--large button--block" aria-disabled={loading}>
          {loading ? "Creating your account…" : "Create account"}
        </button>
      </form>
    </AuthShell>
  );
}
