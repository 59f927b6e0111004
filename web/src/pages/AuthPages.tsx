import { useId, useState } from "react";
import type { FormEvent } from "react";
import { useMutation } from "@apollo/client/react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router";
import { graphql } from "../gql";
import { useAuth } from "../auth";
import { fieldErrors, friendlyMessage } from "../lib/errors";
import type { FieldErrors } from "../lib/errors";
import { useTitle } from "../lib/useTitle";

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

export function LoginPage() {
  const { signIn, status } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const id = useId();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [login, { loading }] = useMutation(LoginDocument);
  useTitle("Sign in");

  if (status === "signedIn") return <Navigate to={next} replace />;

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const local: FieldErrors = {};
    if (!username.trim()) local["username"] = "Enter your username.";
    if (!password) local["password"] = "Enter your password.";
    setErrors(local);
    if (Object.keys(local).length > 0) return;
    try {
      const { data } = await login({ variables: { username: username.trim(), password } });
      const payload = data?.login;
      if (payload?.token) {
        await signIn(payload.token);
        navigate(next, { replace: true });
      } else {
        setErrors(fieldErrors(payload?.errors ?? [{ field: null, message: "We couldn't sign you in." }]));
      }
    } catch (error) {
      setErrors({ _: friendlyMessage(error) });
    }
  };

  return (
    <AuthShell
      title="Sign in"
      footer={
        <>
          New here? <Link to={`/register${next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}`}>Create an account</Link>
        </>
      }
    >
      <form onSubmit={onSubmit} noValidate aria-describedby={errors["_"] ? `${id}-form-error` : undefined}>
        {errors["_"] ? (
          <p className="notice notice--error" role="alert" id={`${id}-form-error`} data-testid="form-error">
            {errors["_"]}
          </p>
        ) : null}
        <Field id={`${id}-username`} name="username" label="Username" type="text" value={username} onChange={setUsername} error={errors["username"]} autoComplete="username" />
        <Field id={`${id}-password`} name="password" label="Password" type="password" value={password} onChange={setPassword} error={errors["password"]} autoComplete="current-password" />
        <button type="submit" className="button button--large button--block" disabled={loading}>
          {loading ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </AuthShell>
  );
}

export function RegisterPage() {
  const { signIn, status } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const id = useId();
  const [username, setUsername] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [register, { loading }] = useMutation(RegisterDocument);
  useTitle("Create an account");

  if (status === "signedIn") return <Navigate to={next} replace />;

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const local: FieldErrors = {};
    if (!USERNAME_PATTERN.test(username.trim())) {
      local["username"] = "Use 3 to 64 letters, digits, dots, dashes or underscores.";
    }
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim())) local["email"] = "Enter a valid email address.";
    if (password.length < MIN_PASSWORD) local["password"] = `Use at least ${MIN_PASSWORD} characters.`;
    setErrors(local);
    if (Object.keys(local).length > 0) return;
    try {
      const { data } = await register({ variables: { username: username.trim(), email: email.trim(), password } });
      const payload = data?.register;
      if (payload?.token) {
        await signIn(payload.token);
        navigate(next, { replace: true });
      } else {
        setErrors(fieldErrors(payload?.errors ?? [{ field: null, message: "We couldn't create your account." }]));
      }
    } catch (error) {
      setErrors({ _: friendlyMessage(error) });
    }
  };

  return (
    <AuthShell
      title="Create an account"
      footer={
        <>
          Already have one? <Link to={`/login${next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}`}>Sign in</Link>
        </>
      }
    >
      <p className="auth__lead">Get picks made for you from what you browse and buy.</p>
      <form onSubmit={onSubmit} noValidate>
        {errors["_"] ? (
          <p className="notice notice--error" role="alert" data-testid="form-error">
            {errors["_"]}
          </p>
        ) : null}
        <Field id={`${id}-username`} name="username" label="Username" type="text" value={username} onChange={setUsername} error={errors["username"]} hint="3 to 64 letters, digits, . _ or -" autoComplete="username" />
        <Field id={`${id}-email`} name="email" label="Email" type="email" value={email} onChange={setEmail} error={errors["email"]} autoComplete="email" />
        <Field id={`${id}-password`} name="password" label="Password" type="password" value={password} onChange={setPassword} error={errors["password"]} hint={`At least ${MIN_PASSWORD} characters`} autoComplete="new-password" />
        <button type="submit" className="button button--large button--block" disabled={loading}>
          {loading ? "Creating your account…" : "Create account"}
        </button>
      </form>
    </AuthShell>
  );
}
