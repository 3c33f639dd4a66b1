/** Page title without unread messages. */
export const BASE_TITLE = 'Cloak';

/** Returns the tab title, such as "(3) Cloak" with three unread messages. */
export function unreadTitle(
  conversations: readonly { readonly unread: number }[],
): string {
  const unread = conversations.reduce(
    (total, conversation) => total + conversation.unread,
    0,
  );
  return unread > 0 ? `(${unread}) ${BASE_TITLE}` : BASE_TITLE;
}
