using Distributed.Gateway.Pools;

namespace Distributed.Gateway.Management;

/// <summary>
/// Resolves the pool an admin call names (<c>/admin/pools/{pool}/…</c>) once, before its handler runs: a pool this
/// gateway does not have is answered 404 here, and the handler finds the pool with <see cref="Pool"/>.
/// </summary>
internal sealed class AdminPoolFilter(PoolRegistry pools) : IEndpointFilter
{
    /// <summary>The pool of the admin call being handled, resolved by the filter.</summary>
    public static PoolRuntime Pool(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Features.Get<PoolRuntime>() ?? throw new InvalidOperationException($"{nameof(AdminPoolFilter)} did not run for {context.Request.Path}.");
    }

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var name = context.HttpContext.GetRouteValue("pool") as string ?? "";
        if (pools.Find(name) is not { } pool)
        {
            return AdminApi.UnknownPool(name);
        }

        context.HttpContext.Features.Set(pool);
        return await next(context);
    }
}
