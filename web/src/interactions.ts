import { useCallback } from "react";
import { useMutation } from "@apollo/client/react";
import { graphql } from "./gql";
import type { InteractionType } from "./gql/graphql";
import { forgetPersonalisedData } from "./apollo";
import { useAuth } from "./auth";

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
 * Records a customer event (signed-in customers only; visitors are a no-op) and makes every
 * recommendations panel ask again, so a cart add or purchase shows at once.
 */
export function useRecordInteraction() {
  const { user } = useAuth();
  const userId = user?.id ?? null;
  const [mutate] = useMutation(RecordInteractionDocument, {
    update(cache, result) {
      if (result.data?.recordInteraction.interaction) forgetPersonalisedData(cache, userId);
    },
  });

  return useCallback(
    async (productId: string, type: InteractionType, quantity = 1): Promise<RecordResult> => {
      if (!userId) return { ok: true };
      try {
        const { data } = await mutate({ variables: { productId, type, quantity } });
        const errors = data?.recordInteraction.errors ?? [];
        if (errors.length > 0) return { ok: false, message: errors.map((e) => e.message).join(" ") };
        return { ok: true };
      } catch (error) {
        return { ok: false, message: error instanceof Error ? error.message : String(error) };
      }
    },
    [mutate, userId],
  );
}
