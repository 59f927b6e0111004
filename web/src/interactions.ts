import { useCallback } from "react";
import { useApolloClient, useMutation } from "@apollo/client/react";
import { graphql } from "./gql";
import type { InteractionType } from "./gql/graphql";
import { forgetPersonalisedData } from "./apollo";
import { useAuth } from "./auth";
import { endVisit, ensureVisit, isUnauthenticated } from "./visit";

export const RecordInteractionDocument = graphql(`
  mutation RecordInteraction($productId: ID!, $type: InteractionType!, $quantity: Int! = 1) {
    recordInteraction(productId: $productId, type: $type, quantity: $quantity) {
      interaction {
        id
        type
        quantity
      }
      errors {
        field
        message
        code
      }
    }
  }
`);

export interface RecordResult {
  ok: boolean;
  message?: string;
}

/**
 * Records an event of the signed-in customer, or of the visitor (starting a visit on the first
 * event; the visit moves to the account on register or sign-in), and makes every
 * recommendations panel ask again, so a view or cart add shows at once.
 */
export function useRecordInteraction() {
  const { user, status } = useAuth();
  const client = useApolloClient();
  const userId = user?.id ?? null;
  const visitor = status === "anonymous";
  const [mutate] = useMutation(RecordInteractionDocument, {
    update(cache, result) {
      if (result.data?.recordInteraction.interaction) forgetPersonalisedData(cache, userId);
    },
  });

  return useCallback(
    async (productId: string, type: InteractionType, quantity = 1): Promise<RecordResult> => {
      if (!userId && !visitor) return { ok: true };
      try {
        if (visitor && !(await ensureVisit(client))) return { ok: true };
        const send = () => mutate({ variables: { productId, type, quantity } });
        const { data } = await send().catch(async (error: unknown) => {
          if (!visitor || !isUnauthenticated(error)) throw error;
          endVisit(); // the visit ended elsewhere (merged in another tab): start a new one
          if (!(await ensureVisit(client))) throw error;
          return send();
        });
        const errors = data?.recordInteraction.errors ?? [];
        if (errors.length > 0) return { ok: false, message: errors.map((e) => e.message).join(" ") };
        return { ok: true };
      } catch (error) {
        return { ok: false, message: error instanceof Error ? error.message : String(error) };
      }
    },
    [mutate, userId, visitor, client],
  );
}
