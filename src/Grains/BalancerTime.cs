using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Distributed.Grains;

/// <summary>
/// The balancer's clock: a keyed <see cref="TimeProvider"/> so tests can swap it for a fake
/// without also replacing the clock Orleans itself runs on (membership, timers, timeouts).
/// </summary>
public static class BalancerTime
{
    /// <summary>The service key of the balancer's <see cref="TimeProvider"/>.</summary>
    public const string ServiceKey = "Distributed.BalancerTime";

    /// <summary>Registers <see cref="TimeProvider.System"/> as the balancer's clock unless one is registered already.</summary>
    public static IServiceCollection AddBalancerTime(this IServiceCollection services)
    {
        services.TryAddKeyedSingleton(ServiceKey, TimeProvider.System);
        return services;
    }
}
