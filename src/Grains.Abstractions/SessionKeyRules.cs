namespace Distributed.Grains.Abstractions;

/// <summary>
/// What a session key may be, checked wherever one comes in (a request's header, cookie or claim; the admin API's URL):
/// 1 to <c>Balancer:MaxSessionKeyLength</c> visible ASCII characters, '!' to '~'. The key becomes part of its session
/// grain's key (<see cref="GrainKeys.Session"/>) and of its record in the store, so anything else is refused rather than
/// rewritten: two clients' keys can never collide.
/// </summary>
public static class SessionKeyRules
{
    /// <summary>
    /// What is wrong with <paramref name="key"/>, as the rest of a sentence whose subject is the key ("is longer than 128
    /// characters"), or <c>null</c> when it is a valid session key.
    /// </summary>
    public static string? Check(string? key, int maxLength)
    {
        if (string.IsNullOrEmpty(key))
        {
            return "is empty";
        }

        if (key.Length > maxLength)
        {
            return $"is longer than {maxLength} characters";
        }

        foreach (var c in key)
        {
            if (c is < '!' or > '~')
            {
                return "may contain only visible ASCII characters";
            }
        }

        return null;
    }
}
